// Package jobstage stages the files of a submitted job (its program and,
// optionally, its working directory) in the GCS, as `gray job submit`
// and the dashboard's PUT /api/packages/{sha256} both do.
//
// A staged file is content-addressed in the KV namespace gcs.BinaryNS:
// "<sha256>/<i>" holds its i-th chunk of at most ChunkBytes, and
// "<sha256>" its gcs.BinaryManifest as JSON, written after every chunk,
// so that the manifest's presence means the upload is complete. Nodes
// read the chunks back and verify the hash before they run or unpack
// the file.
//
// The package does no GCS calls itself: the caller passes a Store whose
// functions make them with its own client (the CLI's, or the head
// node's fetcher process for the dashboard).
package jobstage
