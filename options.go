package gray

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
)

// Option configures a task submission or an actor creation. Each option
// says which it applies to; others ignore it.
type Option func(*callConfig)

type callConfig struct {
	resources       map[string]float64 // nil: the default (1 CPU for tasks)
	maxRetries      *int
	retryExceptions bool
	spread          bool
	name, namespace string
	getIfExists     bool
	maxRestarts     int
	maxTaskRetries  int
	maxConcurrency  *int
	unackedReplies  bool
	detached        bool
	groups          map[string]int
	backpressure    int
	labels          map[string]string
	infeasibleWait  *time.Duration
	affinity        string // a node id, as Nodes and GetRuntimeContext give it
	affinitySoft    bool
	// Placement groups (placement.go): a group's strategy, and the group
	// and bundle work is scheduled into.
	placementStrategy PlacementStrategy
	group             *PlacementGroup
	groupBundle       int
	captureChildren   bool
}

// onlyGroupOptions refuses options that do not apply to creating a
// placement group.
func (c callConfig) onlyGroupOptions() error {
	rest := c
	rest.name, rest.namespace, rest.detached, rest.placementStrategy = "", "", false, ""
	if rest.resources != nil || rest.maxRetries != nil || rest.retryExceptions || rest.spread || rest.getIfExists ||
		rest.maxRestarts != 0 || rest.maxTaskRetries != 0 || rest.maxConcurrency != nil || rest.groups != nil || rest.backpressure != 0 ||
		rest.labels != nil || rest.infeasibleWait != nil || rest.affinity != "" || rest.group != nil || rest.captureChildren {
		return errors.New("gray: CreatePlacementGroup takes only WithPlacementStrategy, WithName, WithNamespace and WithDetached")
	}
	return nil
}

// WithResources adds resource demands (tasks: while running; actors: for
// their lifetime), such as {"CPU": 2, "GPU": 1} or custom resources.
// Fractions down to 1/10000 are allowed.
func WithResources(res map[string]float64) Option {
	return func(c *callConfig) {
		if c.resources == nil {
			c.resources = map[string]float64{}
		}
		maps.Copy(c.resources, res)
	}
}

// WithCPUs sets the CPUs demanded (tasks default to 1, actors to 0).
func WithCPUs(n float64) Option { return WithResources(map[string]float64{core.CPU: n}) }

// WithGPUs sets the GPUs demanded (default 0).
func WithGPUs(n float64) Option { return WithResources(map[string]float64{core.GPU: n}) }

// WithMaxRetries bounds a task's retries after its worker or node dies
// (default 3; -1 forever; 0 none).
func WithMaxRetries(n int) Option { return func(c *callConfig) { c.maxRetries = &n } }

// WithRetryExceptions also retries a task whose body returned an error or
// panicked, within WithMaxRetries.
func WithRetryExceptions() Option { return func(c *callConfig) { c.retryExceptions = true } }

// WithSpread schedules the task or actor round-robin over the nodes
// (Ray's "SPREAD") instead of the default local-first hybrid policy.
func WithSpread() Option { return func(c *callConfig) { c.spread = true } }

// WithName names an actor (within its namespace): creating a second
// actor of that name fails with ErrActorNameTaken, unless WithGetIfExists.
func WithName(name string) Option { return func(c *callConfig) { c.name = name } }

// WithNamespace sets the namespace of a named actor (default "").
func WithNamespace(ns string) Option { return func(c *callConfig) { c.namespace = ns } }

// WithGetIfExists makes creating a named actor return a handle to the
// live actor of that name if there is one.
func WithGetIfExists() Option { return func(c *callConfig) { c.getIfExists = true } }

// WithMaxRestarts bounds an actor's restarts after its worker or node
// dies (default 0; -1 forever). A restart runs the constructor again.
func WithMaxRestarts(n int) Option { return func(c *callConfig) { c.maxRestarts = n } }

// WithMaxTaskRetries bounds how often a call in flight when its actor
// died is resent to the restarted actor (default 0: it fails with
// ErrActorDied; -1 forever).
func WithMaxTaskRetries(n int) Option { return func(c *callConfig) { c.maxTaskRetries = n } }

// WithMaxConcurrency lets an actor run up to n calls at once (Ray's
// max_concurrency; default 1, at most 1,000). With 1 each caller's calls
// run one at a time in the order it made them; with more they start in
// that order and run concurrently, so the methods must synchronize the
// actor's state themselves (a sync.Mutex, atomics): Go has no GIL. An
// actor option: tasks ignore it.
func WithMaxConcurrency(n int) Option { return func(c *callConfig) { c.maxConcurrency = &n } }

// WithUnackedReplies lets an actor start its next call without waiting
// for the caller's acknowledgement of the previous reply. By default an
// actor whose calls run one at a time waits for it when the caller is
// another process, so that a call that kills the actor's process never
// takes a finished call's reply with it (docs/api.md, "Actor crashes
// and replies"); that costs one round trip per call to a caller with
// many calls in flight. With this option such a caller's calls run back
// to back, and a crash can lose the replies of the calls just before
// it (they fail with ErrActorDied although they ran), as in Ray. An
// actor option.
func WithUnackedReplies() Option { return func(c *callConfig) { c.unackedReplies = true } }

// WithConcurrencyGroups gives an actor named groups of methods, each
// running up to its limit of calls at once apart from the others (Ray's
// concurrency_groups): a method handle's InGroup(name) runs its calls in
// group name; other calls share WithMaxConcurrency (default 1). At most
// 32 groups, names of 1..64 bytes, limits 1..1,000. An actor option.
func WithConcurrencyGroups(groups map[string]int) Option {
	return func(c *callConfig) { c.groups = maps.Clone(groups) }
}

// WithLabelSelector places the task or actor only on nodes whose labels
// match every entry of selector (Ray's label_selector; nodes get labels
// from grayd --labels, NodeOptions.Labels or WithNodeLabels). Per label
// key the value is "v" (the label is v), "!v" (it is not, or the node
// lacks the label), "in(a,b)" (one of them) or "!in(a,b)". Work no alive
// node matches fails with ErrInfeasible, saying so. It combines with
// the other strategies: among the matching nodes, the default policy,
// WithSpread or WithNodeAffinity decides.
func WithLabelSelector(selector map[string]string) Option {
	return func(c *callConfig) {
		if c.labels == nil {
			c.labels = map[string]string{}
		}
		maps.Copy(c.labels, selector)
	}
}

// WithNodeAffinity places the task or actor on the node nodeID (as Nodes
// and GetRuntimeContext give it; Ray's NodeAffinitySchedulingStrategy).
// Hard (soft false): it runs there or fails with ErrInfeasible when the
// node is dead, draining or too small for it, and waits while the node is
// busy. Soft: it runs there when the node can take it now, and where the
// default policy puts it otherwise.
func WithNodeAffinity(nodeID string, soft bool) Option {
	return func(c *callConfig) { c.affinity, c.affinitySoft = nodeID, soft }
}

// WithInfeasibleTimeout bounds how long a task waits when no node of the
// cluster can run it (its resources or labels): by default it waits until
// a node that can joins (Ray's pending demand), and its owner's log warns
// at once and every two minutes while it waits; after d it fails with
// ErrInfeasible naming what is missing. d <= 0 fails it at once. An actor
// no node can host waits the same way (pending creation; its calls wait),
// its owner's log and the GCS's warn, gray list actors shows why, and
// with d its creation fails after d: the actor is DEAD, its calls fail
// with ErrActorDied saying it was infeasible.
func WithInfeasibleTimeout(d time.Duration) Option {
	return func(c *callConfig) { c.infeasibleWait = &d }
}

// WithBackpressure bounds how far a streaming generator (Generator0…)
// runs ahead of its consumer, as Ray's
// _generator_backpressure_num_objects: a body that has yielded n items
// the consumer has not taken yet waits in its next yield until the
// consumer takes one. 0, the default, does not bound it. Other tasks
// ignore it.
func WithBackpressure(n int) Option { return func(c *callConfig) { c.backpressure = max(n, 0) } }

// WithDetached gives an actor Ray's lifetime="detached": it outlives the
// process that created it and its job, and lives until it is killed
// (Kill from any handle; look it up by name with GetActor, so name it).
// An actor option: tasks ignore it.
func WithDetached() Option { return func(c *callConfig) { c.detached = true } }

func newCallConfig(opts []Option) callConfig {
	var c callConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

func toResources(m map[string]float64) (core.Resources, error) {
	q := make(map[string]core.Quantity, len(m))
	for k, v := range m { //gray:unordered NewResources sorts
		if v < 0 || math.IsNaN(v) || v > math.MaxInt64/core.QuantityScale {
			return nil, fmt.Errorf("gray: resource %q = %v: want a non-negative amount", k, v)
		}
		q[k] = core.Quantity(math.Round(v * core.QuantityScale))
	}
	return core.NewResources(q)
}

func (c callConfig) strategy() (proto.Strategy, error) {
	var s proto.Strategy
	if c.group != nil {
		switch {
		case c.affinity != "" || c.spread:
			return s, errors.New("gray: WithPlacementGroup with WithSpread or WithNodeAffinity: the group decides the node; choose one")
		case c.groupBundle < -1 || c.groupBundle >= c.group.Bundles:
			return s, fmt.Errorf("gray: WithPlacementGroup: bundle %d of a group of %d bundles (-1: any)", c.groupBundle, c.group.Bundles)
		}
		id, err := parseGroupID(c.group)
		if err != nil {
			return s, err
		}
		s.Bundle = &proto.BundleRef{Group: id, Index: int32(c.groupBundle), Capture: c.captureChildren}
	} else if c.captureChildren {
		return s, errors.New("gray: WithCaptureChildTasks without WithPlacementGroup: there is no group to capture them into")
	}
	switch {
	case c.affinity != "" && c.spread:
		return s, errors.New("gray: WithSpread and WithNodeAffinity together: choose one")
	case c.affinity != "":
		n, err := parseNodeID(c.affinity)
		if err != nil {
			return s, fmt.Errorf("gray: WithNodeAffinity: %w", err)
		}
		s = proto.Strategy{Kind: proto.StrategyNodeAffinity, Node: n, Soft: c.affinitySoft}
	case c.spread:
		s = proto.Strategy{Kind: proto.StrategySpread}
	}
	if c.labels != nil {
		sel, err := core.ParseSelector(c.labels)
		if err != nil {
			return s, fmt.Errorf("gray: WithLabelSelector: %w", err)
		}
		s.Labels = sel
	}
	return s, nil
}

func (c callConfig) taskOptions() (worker.TaskOptions, error) {
	o := worker.TaskOptions{NumReturns: 1, RetryExceptions: c.retryExceptions, Backpressure: c.backpressure}
	if d := c.infeasibleWait; d != nil {
		o.InfeasibleWait = *d
		if *d <= 0 { // fail at once
			o.InfeasibleWait = -1
		}
	}
	var err error
	if o.Strategy, err = c.strategy(); err != nil {
		return o, err
	}
	if c.resources != nil {
		r, err := toResources(c.resources)
		if err != nil {
			return o, err
		}
		if _, ok := c.resources[core.CPU]; !ok {
			r = r.Add(worker.DefaultTaskResources)
		}
		o.Resources = r
	}
	if c.maxRetries != nil {
		switch n := *c.maxRetries; {
		case n == 0:
			o.MaxRetries = worker.NoRetries
		case n < 0:
			o.MaxRetries = -1
		default:
			o.MaxRetries = int32(min(n, math.MaxInt32))
		}
	}
	return o, nil
}

func (c callConfig) actorOptions() (worker.ActorOptions, error) {
	if c.getIfExists && c.name == "" {
		return worker.ActorOptions{}, errors.New("gray: WithGetIfExists needs WithName (an anonymous actor cannot be found again)")
	}
	o := worker.ActorOptions{Name: c.name, Namespace: c.namespace, GetIfExists: c.getIfExists,
		MaxRestarts: c.maxRestarts, MaxTaskRetries: c.maxTaskRetries, Detached: c.detached,
		ConcurrencyGroups: c.groups}
	if d := c.infeasibleWait; d != nil {
		o.InfeasibleWait = *d
		if *d <= 0 { // fail at once
			o.InfeasibleWait = -1
		}
	}
	var err error
	if o.Strategy, err = c.strategy(); err != nil {
		return o, err
	}
	if n := c.maxConcurrency; n != nil {
		if *n < 1 || *n > proto.ActorConcurrencyMax {
			return o, fmt.Errorf("gray: WithMaxConcurrency(%d): want 1..%d", *n, proto.ActorConcurrencyMax)
		}
		o.MaxConcurrency = *n
	}
	o.UnackedReplies = c.unackedReplies
	r, err := toResources(c.resources)
	if err != nil {
		return o, err
	}
	o.Resources = r
	if len(c.resources) == 0 {
		// Ray's default: 1 CPU free to be placed, none held while it
		// lives (its worker is its own, not a task slot).
		o.PlacementResources = actorPlacementDefault
	}
	return o, nil
}

// actorPlacementDefault is what placing an actor created without
// resources needs.
var actorPlacementDefault = core.MustResources(core.CPU, 1)

// CancelOption configures Cancel.
type CancelOption func(*cancelConfig)

type cancelConfig struct {
	force       bool
	noRecursive bool
}

// WithForce makes Cancel of a running task stop its worker process
// (Ray's force=True) rather than only cancel the body's ctx: the task's
// Get fails with ErrCancelled, the process exits, every body it runs sees
// its ctx cancelled, and a fresh worker process takes its place in the
// node's pool. A body that ignores its ctx still runs to its end on its
// goroutine (Go cannot stop one), and Shutdown waits for it.
func WithForce() CancelOption { return func(c *cancelConfig) { c.force = true } }

// WithRecursive sets whether Cancel also cancels the tasks that the
// cancelled task's body submitted (default true, as in Ray). A body
// cancelled recursively can submit no more tasks: Remote from it returns
// a Ref whose Get fails with ErrCancelled.
func WithRecursive(recursive bool) CancelOption {
	return func(c *cancelConfig) { c.noRecursive = !recursive }
}
