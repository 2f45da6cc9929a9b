package bus

import (
	"reflect"
	"testing"
)

// Each decoder fuzz checks that a decoder never panics and that whatever it
// accepts, the bridge can write back: encoding succeeds and decodes to the
// same value, and encoding is stable. Seeds: f.Add below and the files in
// testdata/fuzz/FuzzXxx/.

func fuzzDecoder[T any](f *testing.F, decode func([]byte) (T, error), encode func(T) ([]byte, error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			var zero T
			if !reflect.DeepEqual(v, zero) {
				t.Fatalf("decode error %v with a value %+v", err, v)
			}
			return
		}
		enc, err := encode(v)
		if err != nil {
			t.Fatalf("decoded %q to %+v, which does not encode: %v", data, v, err)
		}
		v2, err := decode(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip changed the value:\n first %+v\nsecond %+v\n  JSON %s", v, v2, enc)
		}
		enc2, err := encode(v2)
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("encoding not stable: %s then %s (%v)", enc, enc2, err)
		}
	})
}

func mustEncode(data []byte, err error) string {
	if err != nil {
		panic(err)
	}
	return string(data)
}

func FuzzDecodeAgent(f *testing.F) {
	fuzzDecoder(f, DecodeAgent, EncodeAgent,
		mustEncode(EncodeAgent(sampleAgent())),
		`{"v":1,"id":"a","status":"away","queues":[],"status_since":"9999-12-31T23:59:59-01:00"}`,
		`{"v":2,"id":"a","status":"away"}`,
		`{"v":1,"ID":"a","Status":"offline","queues":null}`,
	)
}

func FuzzDecodeQueue(f *testing.F) {
	fuzzDecoder(f, DecodeQueue, EncodeQueue,
		mustEncode(EncodeQueue(sampleQueue())),
		`{"v":1,"id":"q","as_of":"2026-03-02T09:14:05+02:00","longest_wait_seconds":0.0004}`,
		`{"v":1,"id":"q","as_of":"2026-03-02T09:14:05Z","longest_wait_seconds":999999999.9999}`,
		`{"v":1,"id":"q","as_of":"0000-01-01T00:00:00Z"}`,
	)
}

func FuzzDecodeAvailability(f *testing.F) {
	fuzzDecoder(f, DecodeAvailability, EncodeAvailability,
		mustEncode(EncodeAvailability(sampleAvailability())),
		`{"v":1,"agent_id":"a","available":true,"state":"available","reason":"","version":18446744073709551615,"since":"2026-03-02T09:14:05.123456789Z"}`,
		`{"v":1,"agent_id":"a","Available":true,"state":"available","version":1,"since":"2026-03-02T09:14:05Z"}`,
	)
}

func FuzzDecodeRequest(f *testing.F) {
	fuzzDecoder(f, DecodeRequest, EncodeRequest,
		mustEncode(EncodeRequest(sampleRequest())),
		`{"v":1,"id":"r","queue":"q","status":"waiting","created_at":"2026-03-02T09:13:22Z","fields":{}}`,
		`{"v":1,"id":"r\ud800","queue":"q","status":"waiting","created_at":"2026-03-02T09:13:22Z","name":"\u00e9"}`,
	)
}

func FuzzDecodeSession(f *testing.F) {
	fuzzDecoder(f, DecodeSession, EncodeSession,
		mustEncode(EncodeSession(sampleSession())),
		`{"v":1,"id":"s","agent_id":"a","queue":"q","started_at":"2026-03-02T09:14:05Z","ended_at":"2026-03-02T09:14:05Z","duration_seconds":1e-320}`,
	)
}

func FuzzToken(f *testing.F) {
	for _, id := range append(trickyIDs, "=", "=2F", "\x00\xff", "a\nb") {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tok := Token(id)
		if id == "" {
			if tok != "" {
				t.Fatalf("Token(\"\") = %q", tok)
			}
			return
		}
		checkToken(t, tok)
		back, err := Untoken(tok)
		if err != nil || back != id {
			t.Fatalf("Untoken(Token(%q)) = %q, %v", id, back, err)
		}
	})
}

func FuzzUntoken(f *testing.F) {
	for _, tok := range []string{"a-0001", "support=2Fprinters", "=3D2F", "=41", "=2f", "=", "a.b", "Zo=C3=AB"} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := Untoken(tok)
		if err != nil {
			return
		}
		if got := Token(id); got != tok {
			t.Fatalf("Token(Untoken(%q)) = %q", tok, got)
		}
	})
}
