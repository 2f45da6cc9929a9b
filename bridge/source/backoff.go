package source

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff is exponential backoff with full jitter: after n failures in a
// row, wait a random time between 0 and min(max, min·2ⁿ⁻¹). Full jitter
// keeps many bridges that lost the same source from coming back in step.
type backoff struct {
	min, max time.Duration
	failures int
}

// next counts one more failure and returns how long to wait.
func (b *backoff) next() time.Duration {
	b.failures++
	return jitter(b.ceiling())
}

// ceiling is the largest wait after the failures so far.
func (b *backoff) ceiling() time.Duration {
	d := b.min
	for i := 1; i < b.failures && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

func (b *backoff) reset() { b.failures = 0 }

// jitter draws a wait in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// maxRetryAfter bounds a Retry-After: a source asking for more than an
// hour is more likely wrong than right, and the bridge must come back.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header, in seconds or as an HTTP date. It
// returns 0 when there is none or it cannot be read.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
