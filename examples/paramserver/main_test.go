package main

import "context"

func Example() {
	if err := run(context.Background()); err != nil {
		panic(err)
	}
	// Output: learned w = [1.500 -2.000 0.500 3.000] (true [1.5 -2 0.5 3])
}
