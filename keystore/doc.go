// Package keystore keeps Signet's records (API keys, revocations and the
// generated signing secret) behind one small interface, Store, with two
// implementations: BoltStore, an embedded bbolt file for a single instance
// (the default), and RedisStore, shared by every instance that points at
// the same Redis (single node, Sentinel or Cluster), whose change feed
// (Redis pub/sub) keeps the instances in step.
//
// Cache is the in-process view that the request path reads: lock-free
// lookups that never wait on the network, kept current by the store's
// change feed and a periodic resync.
package keystore
