package gcs

import (
	"sync"
	"testing"
	"time"
)

// Tests may use goroutines, channels, locks and the wall clock: nothing in
// this file is reported.
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	ch := make(chan time.Time, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ch <- time.Now()
	}()
	wg.Wait()
	<-ch
}
