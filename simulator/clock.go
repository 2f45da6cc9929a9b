package simulator

import (
	"sync"
	"time"
)

// Clock tells simulated time.
type Clock interface {
	Now() time.Time
}

// scaledClock runs simulated time speed times faster than wall time, from
// start.
type scaledClock struct {
	start     time.Time
	wallStart time.Time
	speed     float64
}

// NewScaledClock returns a clock that reads start now and then runs speed
// times faster than the wall clock.
func NewScaledClock(start time.Time, speed float64) Clock {
	return &scaledClock{start: start, wallStart: time.Now(), speed: speed}
}

func (c *scaledClock) Now() time.Time {
	elapsed := time.Since(c.wallStart)
	return c.start.Add(time.Duration(float64(elapsed) * c.speed))
}

// ManualClock is a clock that moves only when told to; tests use it.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a clock standing at t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *ManualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
