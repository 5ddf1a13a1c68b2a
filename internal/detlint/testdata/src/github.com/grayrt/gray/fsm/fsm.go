package fsm

import "time"

func stamp() time.Time {
	return time.Now() // want `detlint: time\.Now reads the wall clock`
}
