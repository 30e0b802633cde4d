// Command chat-ferretdb runs FerretDB 1.24 on its SQLite backend as the
// MongoDB-wire server of the local stack and the tests.
//
// It embeds github.com/FerretDB/FerretDB/ferretdb instead of building
// upstream's cmd/ferretdb, whose `go install` build panics at start
// (FerretDB issue 2982: build/version/version.txt is missing).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", "ferretdb-data", "directory of the SQLite databases")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: -log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: -listen %q: %v\n", *listen, err)
		os.Exit(2)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// The local stack and the tests only ever serve this machine.
		fmt.Fprintf(os.Stderr, "chat-ferretdb: -listen %q is not a loopback address\n", *listen)
		os.Exit(2)
	}
	dir, err := filepath.Abs(*dataDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: -data-dir %q: %v\n", *dataDir, err)
		os.Exit(2)
	}

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger.Info("chat-ferretdb listening", "listen", *listen, "data-dir", dir)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
