package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The signature of a request, when the secret setting is set:
//
//	X-Acdbridge-Timestamp: the Unix time in seconds when it was sent
//	X-Acdbridge-Signature: "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
//
// The timestamp is signed with the body so that a recorded request cannot be
// replayed later: receivers refuse timestamps outside a tolerance.

// DefaultTolerance is how far a request's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

const signaturePrefix = "sha256="

// Verify errors, for errors.Is.
var (
	// ErrSignature: the signature is missing, malformed, or does not match
	// the body (wrong secret, or the body was changed).
	ErrSignature = errors.New("webhook signature invalid")
	// ErrTimestamp: the timestamp is missing, malformed, or outside the
	// tolerance (a replayed or delayed request, or a clock off).
	ErrTimestamp = errors.New("webhook timestamp invalid")
)

// Sign is the X-Acdbridge-Signature value for body sent at timestamp (Unix
// seconds, as in X-Acdbridge-Timestamp).
func Sign(secret, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestamp))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a request the webhook adapter signed: timestamp and
// signature are its X-Acdbridge-Timestamp and X-Acdbridge-Signature headers,
// body its exact bytes. It refuses a timestamp farther than tolerance from
// now (DefaultTolerance when tolerance <= 0) and compares signatures in
// constant time. A nil error means the request came from a holder of secret,
// unchanged, within the tolerance.
func Verify(secret, timestamp string, body []byte, signature string, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: expected a secret to verify with, got an empty one", ErrSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: expected Unix seconds in X-Acdbridge-Timestamp, got %q", ErrTimestamp, truncate(timestamp, 40))
	}
	sent := time.Unix(sec, 0)
	if skew := now.Sub(sent); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: expected a timestamp within %s of now (%s), got %s (%s off): a replayed or delayed request, or a clock that is off",
			ErrTimestamp, tolerance, now.UTC().Format(time.RFC3339), sent.UTC().Format(time.RFC3339), skew.Round(time.Second))
	}
	hexSig, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: expected X-Acdbridge-Signature to start with %q, got %q", ErrSignature, signaturePrefix, truncate(signature, 16))
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: expected %q and %d hex digits, got %d characters that are not", ErrSignature, signaturePrefix, 2*sha256.Size, len(hexSig))
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return fmt.Errorf("%w: the signature does not match the body and timestamp: a different secret, or a changed body", ErrSignature)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
