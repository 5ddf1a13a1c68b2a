// Package process holds gray's worker and driver processes, once: the
// embedded runtime, grayd nodes, joined drivers, launched workers and
// every simulated workload (sim/workload, simtest) run these.
//
// A Worker is a worker process of one node: a core worker that runs the
// program's registered functions (internal/registry) as Env.Go work and
// keeps the live Go objects of the actors it hosts. A Driver is the
// process a program's driver code calls through: it submits tasks, owns
// their results and creates actors; a driver program may run as its Go
// work too (Driver.Main), which is how the simulator runs a user's
// driver function.
//
// User code — task bodies, actor methods, driver programs — is ordinary
// Go that blocks in gray's API. It reaches its process through a Caller
// (carried by the body's ctx) and Do, which is Env.Await underneath: on
// hosts a goroutine waiting on a channel, in the simulator a coroutine
// the world resumes at a seeded event. The package itself is sans-IO
// like the components (cmd/graylint checks it): everything it does goes
// through core.Env.
package process
