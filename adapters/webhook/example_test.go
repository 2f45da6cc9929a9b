package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/acdbridge/acdbridge/adapters/webhook"
	"github.com/acdbridge/acdbridge/plugins/sdk"
)

// README: begin
// receive answers the webhook adapter: it trusts a body only once its
// signature checks out.
func receive(secret string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		err = webhook.Verify(secret, r.Header.Get("X-Acdbridge-Timestamp"), body,
			r.Header.Get("X-Acdbridge-Signature"), time.Now(), 5*time.Minute)
		if err != nil {
			// A 4xx other than 408 and 429 is final: the bridge does not retry.
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			Type string `json:"type"` // availability, reconcile, request, session or alert
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "expected a JSON object", http.StatusBadRequest)
			return
		}
		fmt.Println("received", event.Type)
		w.WriteHeader(http.StatusNoContent) // any 2xx: delivered
	}
}

// README: end

// A receiver in Go checks each request with Verify: the adapter signed with
// the same secret is delivered, one with another secret is refused for good.
func ExampleVerify() {
	receiver := httptest.NewServer(receive("whsec-7d1b0e6f2c"))
	defer receiver.Close()

	ctx := context.Background()
	for _, secret := range []string{"whsec-7d1b0e6f2c", "another-secret"} {
		a := webhook.New(hclog.NewNullLogger())
		settings := fmt.Sprintf(`{"url": %q, "secret": %q}`, receiver.URL, secret)
		if err := a.Configure(ctx, sdk.Settings{Instance: "crm", JSON: []byte(settings)}); err != nil {
			fmt.Println(err)
			return
		}
		r := a.HandleAlert(ctx, sdk.Alert{Rule: "support_backlog", Status: "firing", Severity: "warning", StartsAt: time.Now()})
		fmt.Println(r.Outcome)
	}
	// Output:
	// received alert
	// applied
	// permanent
}
