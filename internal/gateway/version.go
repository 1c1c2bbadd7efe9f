package gateway

// Version is mcpwarden's version, set at build time with -ldflags "-X .../internal/gateway.Version=v1.2.3".
var Version = "dev"
