package main

import "context"

func Example() {
	if err := run(context.Background()); err != nil {
		panic(err)
	}
	// Output:
	// after 1+2+…+10: 55 <nil>
	// after five tasks added 100 each: 555 <nil>
	// after kill, actor died: true
}
