package main

// The components this daprd can load, registered the way the per-component files of
// github.com/dapr/dapr/cmd/daprd/components do (same constructors, same names). Adding one:
// copy its registration from that folder of the pinned Dapr version, then `go mod tidy`.

import (
	nrMDNS "github.com/dapr/components-contrib/nameresolution/mdns"
	nrSQLite "github.com/dapr/components-contrib/nameresolution/sqlite"
	pubsubInMemory "github.com/dapr/components-contrib/pubsub/in-memory"
	pubsubRedis "github.com/dapr/components-contrib/pubsub/redis"
	secretLocalEnv "github.com/dapr/components-contrib/secretstores/local/env"
	secretLocalFile "github.com/dapr/components-contrib/secretstores/local/file"
	stateInMemory "github.com/dapr/components-contrib/state/in-memory"
	stateRedis "github.com/dapr/components-contrib/state/redis"
	stateSQLite "github.com/dapr/components-contrib/state/sqlite"

	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	secretstoresLoader "github.com/dapr/dapr/pkg/components/secretstores"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func init() {
	// state.redis, state.sqlite (pure Go: modernc.org/sqlite, builds with CGO_ENABLED=0),
	// state.in-memory
	stateLoader.DefaultRegistry.RegisterComponent(stateRedis.NewRedisStateStore, "redis")
	stateLoader.DefaultRegistry.RegisterComponent(stateSQLite.NewSQLiteStateStore, "sqlite", "sqlite3")
	stateLoader.DefaultRegistry.RegisterComponent(stateInMemory.NewInMemoryStateStore, "in-memory")

	// pubsub.redis (Redis Streams), pubsub.in-memory
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubRedis.NewRedisStreams, "redis")
	pubsubLoader.DefaultRegistry.RegisterComponent(pubsubInMemory.New, "in-memory")

	// secretstores.local.env, secretstores.local.file
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretLocalEnv.NewEnvSecretStore, "local.env")
	secretstoresLoader.DefaultRegistry.RegisterComponent(secretLocalFile.NewLocalSecretStore, "local.file")

	// nameresolution.mdns: the resolver daprd uses in standalone mode unless a Configuration
	// names another one; without it daprd fails at startup. It multicasts on every interface.
	nrLoader.DefaultRegistry.RegisterComponent(nrMDNS.NewResolver, "mdns")
	// nameresolution.sqlite: sidecars on one host find each other through a shared SQLite file,
	// no multicast; selected by a Configuration (spec.nameResolution.component: sqlite).
	nrLoader.DefaultRegistry.RegisterComponent(nrSQLite.NewResolver, "sqlite")
}
