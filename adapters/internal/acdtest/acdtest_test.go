package acdtest

import (
	"bufio"
	"net"
	"testing"

	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// The fake numbers connections, notes each end once, and Drop notes the
// connections still open.
func TestFakeTranscript(t *testing.T) {
	var f Fake
	served := make(chan int, 2)
	f.Start(t, func(c net.Conn, n int) {
		f.Note("# connection %d\n", n)
		served <- n
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			f.Ended(c, "closed by the client")
			return
		}
		f.Ended(c, "closed by the server")
		f.Ended(c, "noted twice") // already noted: nothing
	})
	c1, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	<-served
	c2, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	<-served
	f.Drop()
	f.Close()
	want := "# connection 1\n# connection 2\n"
	got := f.Transcript()
	// Drop notes both (in any order); serve's Ended then notes nothing.
	if got != want+"# connection 1 dropped by the server\n# connection 2 dropped by the server\n" &&
		got != want+"# connection 2 dropped by the server\n# connection 1 dropped by the server\n" {
		t.Fatalf("transcript %q", got)
	}
}

func TestAgent(t *testing.T) {
	busy := Agent("a-1", "interface", "PJSIP/1001", false, 3)
	if busy.AgentID != "a-1" || busy.Version != 3 || busy.Available || busy.State != "in_session" || busy.Reason != "remote-support" || busy.Identities["interface"] != "PJSIP/1001" {
		t.Fatalf("busy %+v", busy)
	}
	free := Agent("a-1", "interface", "PJSIP/1001", true, 4)
	if !free.Available || free.State != "available" || free.Reason != "" {
		t.Fatalf("free %+v", free)
	}
}

func TestConfigErrors(t *testing.T) {
	parse := func(s sdk.Settings) error {
		if string(s.JSON) == "{}" {
			return nil
		}
		return &sdk.FieldError{Field: "address", Message: "bad"}
	}
	ConfigErrors(t, parse, "{}", nil)
	ConfigErrors(t, parse, `{"address":1}`, []string{"address"})
}
