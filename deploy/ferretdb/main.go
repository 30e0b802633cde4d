// Command chat-ferretdb runs FerretDB 1.24 as the MongoDB-wire server of
// the local stack and the tests: on PostgreSQL when -postgresql-url is given
// (deploy/lib/stack.sh starts a private cluster for it), else on SQLite in
// -data-dir.
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
	postgresqlURL := flag.String("postgresql-url", "",
		"use the PostgreSQL handler with this connection string instead of SQLite")
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
	config := ferretdb.Config{Listener: ferretdb.ListenerConfig{TCP: *listen}}
	store := "postgresql"
	if *postgresqlURL != "" {
		config.Handler = "postgresql"
		config.PostgreSQLURL = *postgresqlURL
	} else {
		dir, err := filepath.Abs(*dataDir)
		if err == nil {
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "chat-ferretdb: -data-dir %q: %v\n", *dataDir, err)
			os.Exit(2)
		}
		config.Handler = "sqlite"
		config.SQLiteURL = "file:" + dir + "/"
		store = "sqlite " + dir
	}

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	config.Logger = logger
	f, err := ferretdb.New(&config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	logger.Info("chat-ferretdb listening", "listen", *listen, "store", store)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "chat-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
