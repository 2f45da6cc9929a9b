package bus

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid; else a part of the error
	}{
		{"embedded defaults", Config{DataDir: "./data"}, ""},
		{"embedded random port", Config{DataDir: "d", Listen: "127.0.0.1:-1"}, ""},
		{"embedded port 0", Config{DataDir: "d", Listen: "127.0.0.1:0"}, ""},
		{"embedded IPv6 loopback", Config{DataDir: "d", Listen: "[::1]:4222"}, ""},
		{"embedded no listener", Config{DataDir: "d", Listen: "-"}, ""},
		{"external", Config{URL: "nats://a:4222"}, ""},
		{"external cluster", Config{URL: "nats://a:4222, nats://b:4222", Replicas: 3}, ""},
		{"external bare host:port", Config{URL: "a:4222"}, ""},
		{"external tls", Config{URL: "tls://a:4222", CredsFile: "x.creds", TLS: TLSFiles{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}}, ""},
		{"external with data dir", Config{URL: "nats://a:4222", DataDir: "./data"}, ""},

		{"embedded without data dir", Config{}, "data_dir is empty"},
		{"embedded on all interfaces", Config{DataDir: "d", Listen: "0.0.0.0:4222"}, "expected a loopback address"},
		{"embedded without host", Config{DataDir: "d", Listen: ":4222"}, "expected a loopback address"},
		{"embedded on a name", Config{DataDir: "d", Listen: "localhost:4222"}, "expected a loopback address"},
		{"embedded bad port", Config{DataDir: "d", Listen: "127.0.0.1:http"}, `port "http"`},
		{"embedded port too big", Config{DataDir: "d", Listen: "127.0.0.1:70000"}, "expected 1 to 65535"},
		{"embedded no port", Config{DataDir: "d", Listen: "127.0.0.1"}, "expected host:port"},
		{"embedded replicas", Config{DataDir: "d", Replicas: 3}, "the embedded server is a single node"},
		{"embedded creds", Config{DataDir: "d", CredsFile: "x.creds"}, "bus.creds_file is for an external server"},
		{"embedded tls", Config{DataDir: "d", TLS: TLSFiles{CAFile: "ca.pem"}}, "bus.tls is for an external server"},
		{"external with listen", Config{URL: "nats://a:4222", Listen: "127.0.0.1:4222"}, "bus.listen is for the embedded server"},
		{"external scheme", Config{URL: "http://a:4222"}, `scheme "http"`},
		{"external empty entry", Config{URL: "nats://a:4222,"}, "empty entry"},
		{"external no host", Config{URL: "nats://:4222"}, "expected a host"},
		{"external cert without key", Config{URL: "nats://a", TLS: TLSFiles{CertFile: "c.pem"}}, "cert_file and key_file go together"},
		{"replicas too many", Config{URL: "nats://a", Replicas: 7}, "bus.replicas is 7: expected 1 to 5"},
		{"replicas negative", Config{URL: "nats://a", Replicas: -1}, "bus.replicas is -1"},
		{"max age too short", Config{URL: "nats://a", MaxAge: time.Second}, "bus.max_age is 1s"},
		{"password not shown", Config{URL: "http://bridge:s3cret@a:4222"}, `"http://REDACTED@a:4222"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Errorf("Validate: %v shows the password", err)
			}
		})
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://a:4222", "nats://a:4222"},
		{"nats://user:pw@a:4222", "nats://REDACTED@a:4222"},
		{"nats://s3cr3ttoken@a:4222,nats://u:p@b:4222", "nats://REDACTED@a:4222,nats://REDACTED@b:4222"},
		{"u:p@a:4222", "REDACTED@a:4222"},
		{"nats://u:p@ss@a:4222", "nats://REDACTED@a:4222"},
	}
	for _, tc := range tests {
		if got := redactURLs(tc.in); got != tc.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
