// Package net holds gray's production drivers of core.Env: a process host
// that runs sans-IO components (GCS, raylet, core worker) on goroutines, the
// wall clock and a real disk, and the transports that carry their messages
// — in memory for a cluster embedded in one program, libp2p between hosts.
//
// Unlike the components it drives, this package is not sans-IO: it is
// where goroutines, locks, sockets and the clock live. Its job is to give
// every component exactly the semantics the simulator (package sim) gives
// it, so that what passes thousands of simulated seeds behaves the same in
// production.
//
// # The driver's duties
//
// A Host runs each added process as the simulator does:
//
//  1. One event at a time. Every process has a mailbox and a goroutine of
//     its own that calls Start once, then delivers, one at a time and in
//     arrival order, messages (Receive), timer callbacks, results of
//     Env.Go and Host.Do calls. A component never needs a lock.
//  2. Messages are copied through the wire format. Env.Send encodes with
//     core.Codec on the sender's goroutine and the receiving side decodes,
//     on the transport's goroutine, into the receiver's mailbox: processes
//     never share memory, even on one host. A message that does not decode
//     is dropped and logged with the reason and the sender (and a stream
//     transport drops the connection it came on).
//  3. Delivery is best-effort, as the simulated network's: a message may be
//     lost (a full mailbox or peer queue, a broken stream, a failed dial, an
//     unknown receiver), delayed, or — across a reconnection — reordered.
//     Messages from one process to another arrive in the order sent while
//     the stream between their hosts lives (always, in memory). Nothing
//     tells the sender; components retry what matters. Every drop is
//     counted (HostStats, MemStats, P2PStats) and logged, rate-limited.
//  4. Timers are never early. Env.AfterFunc(d, f) runs f on the loop after
//     at least d of monotonic wall time; Timer.Stop reports whether it was
//     still pending, and a stopped timer never runs, even if it had already
//     fired into the mailbox. Timers of a stopped process never run. Unlike
//     the simulator's, two timers whose deadlines are very close may run in
//     either order; AfterFunc(0, f) calls run in the order they were made.
//  5. Env.Go(work) runs work on a goroutine of its own; its result comes
//     back as a message to Receive with from == Self(). Results, timers and
//     Do calls are never dropped for a full mailbox: they are bounded by
//     what the process itself schedules.
//  6. Env.Now is the wall clock, Env.Rand a ChaCha8 stream seeded from
//     crypto/rand per process, Env.FS the process's data dir
//     (HostOptions.DataDir/<name> on disk, every path confined to it) or an
//     in-memory FS, Env.Log the host's logger with proc=<address>.
//  7. Failures stay inside the process. A panic with core.FailStop (a disk
//     error, say) stops the process: its Stopper.Stop runs, its timers are
//     cancelled, it leaves the transport, and HostOptions.OnExit is told,
//     so that a daemon can exit for its supervisor to restart it, or an
//     embedded cluster can Add it again (it recovers from its FS). Any other
//     panic is a bug: it is logged with its stack and handled the same way
//     (a *PanicError). The program never crashes because of a process.
//  8. Shutdown is clean: Host.Stop stops one process, Host.Close all of
//     them (Stopper.Stop runs on the process's goroutine) and waits for
//     every goroutine the host started. Close the transport after its
//     hosts.
//
// Every queue is bounded: mailboxes (DefaultMailboxMessages,
// DefaultMailboxBytes), messages (core.DefaultMessageSizeMax), the bytes
// queued per peer (DefaultPeerQueueBytes), inbound streams per peer, and
// the transport's address cache.
//
// # Transports
//
// A Transport moves envelopes between processes; a Host sends through it
// and gets a DeliverFunc per process in return. Mem delivers in memory;
// addresses are plain process names ("gcs", "raylet-1"). P2P is the
// production transport: one libp2p host per program, shared by all its
// processes (a grayd runs GCS and raylet behind one peer id), TCP with a
// private-network key, Noise and yamux — named explicitly, so none of
// libp2p's other transports or security protocols is ever negotiated.
//
// # Addresses on libp2p
//
// A process address is its host's full multiaddr, the peer id, and the
// process name after '#' (see P2PAddr):
//
//	/ip4/10.0.0.5/tcp/6380/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA#gcs
//
// The multiaddr tells Send where to dial; the peer id is what the
// connection authenticates; the name selects the process on that host.
// Each frame carries the sending and the receiving process names, so any
// number of processes share one connection per pair of hosts. A message
// received from a peer names its sender as <host address>#<name>, where the
// host address is the one local processes used to reach that peer if they
// did (so that a reply's sender equals the address its request went to),
// else the one the peer announces (P2POptions.AdvertiseAddr). Configure
// each process with the address its host prints (P2P.HostAddr, Host.Add's
// result).
//
// # Wire protocol
//
// Each host opens one long-lived stream (protocol ProtocolID) to each peer
// it sends to, and only writes on it; the peer only reads. The stream
// starts with a hello naming the sender's host address, which must carry
// the peer id the connection authenticated, then carries frames: a uvarint
// length, the two names, one envelope. A frame longer than the receiver's
// MessageSizeMax (plus the names) is refused from its length alone, before
// any of its body is read. Any violation — a bad hello, a bad length or
// name, an envelope that does not decode — drops the whole connection with
// a logged reason; the host keeps serving everyone else. A sender whose
// stream breaks redials with exponential backoff and jitter
// (P2POptions.BackoffMin/Max); messages queued while a dial fails are
// dropped.
//
// # Security model
//
//   - Cluster membership: the private-network key (libp2p pnet, an
//     XSalsa20 layer under everything else) is SHA-256 of a
//     domain-separation string and the cluster secret
//     (P2POptions.ClusterSecret, at least SecretLenMin bytes). A host
//     without the secret cannot complete any handshake: its dials fail and
//     it learns nothing beyond an open TCP port.
//   - Peer identity: Noise authenticates each connection with the peers'
//     Ed25519 keys and encrypts it. A host's key lives in
//     <DataDir>/p2p-identity.key (KeyFileName), created with crypto/rand
//     and mode 0600 on first start and refused if others can read it, so a
//     host keeps its peer id, and so its addresses, across restarts.
//   - Sender addresses: a peer can speak only for its own processes, since
//     the hello must name the authenticated peer id and the sender address
//     is built from it; a process name is not authenticated within a host.
//   - Within the cluster, peers are trusted not to flood (libp2p's resource
//     and connection managers are off, since they would cap a large
//     cluster), but never trusted to be well-formed: frames and messages
//     are bounded and validated, and components treat every message as
//     untrusted input.
//
// Rotating the secret means restarting every host with the new one.
package net
