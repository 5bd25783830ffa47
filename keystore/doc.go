// Package keystore keeps Signet's records (API keys, users, revocations,
// the ledger of issued links and the generated signing secret) behind one
// small interface, Store, with two implementations: BoltStore, an embedded
// bbolt file for a single instance (the default), and RedisStore, shared by
// every instance that points at the same Redis (single node, Sentinel or
// Cluster), whose change feed (Redis pub/sub) keeps the instances in step.
//
// Cache is the in-process view that the request path reads: lock-free
// lookups that never wait on the network, kept current by the store's
// change feed and a periodic resync. Of the link ledger it holds only the
// links whose expiry was moved (Cache.LinkExpiry), and it counts the uses
// of ordinary links in memory (Cache.CountUse) until it writes them with
// the keys' last-used times.
package keystore
