package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// Listen receives the PostgreSQL notifications of channel (LISTEN/NOTIFY) until ctx ends, on a connection
// of its own that it re-opens with backoff (100ms doubling to 10s) when it is lost. connected, when not nil,
// runs each time the LISTEN is in place (notifications sent while none listened are lost: catch up there);
// notify runs for each notification with its payload; lost, when not nil, learns why a connection ended.
// Listen blocks: run it in a goroutine. On SQLite it returns at once with an error.
func (db *DB) Listen(ctx context.Context, channel string, connected func(), notify func(payload string), lost func(error)) error {
	if db.Dialect != Postgres {
		return fmt.Errorf("store: LISTEN needs PostgreSQL, not %s", db.Dialect)
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, channel, connected, notify)
		if ctx.Err() != nil {
			break
		}
		if lost != nil {
			lost(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	return ctx.Err()
}

func (db *DB) listenOnce(ctx context.Context, channel string, connected func(), notify func(string)) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+channel); err != nil {
			return err
		}
		if connected != nil {
			connected()
		}
		for {
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					// Leave the connection clean for the pool.
					_, _ = pc.Exec(context.Background(), "UNLISTEN "+channel)
				}
				return err
			}
			notify(n.Payload)
		}
	})
}
