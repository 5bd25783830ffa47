package caddymodule

import (
	"context"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
)

func init() {
	// go-redis reports connection trouble through its own logger, which
	// prints to stderr; send it to Caddy's structured log instead.
	redis.SetLogger(redisLogger{})
}

type redisLogger struct{}

func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	caddy.Log().Named("signet.redis").Warn(fmt.Sprintf(format, v...))
}
