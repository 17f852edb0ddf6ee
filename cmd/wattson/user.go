package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/wattson-csms/wattson/store"
)

const userUsage = `Usage:
  wattson user add -name NAME -role admin|operator|viewer [-db …]
  wattson user list [-db …]
  wattson user delete -name NAME [-db …]
  wattson user passwd -name NAME [-db …]

add and passwd read the password from WATTSON_USER_PASSWORD or, without it,
the first line of standard input (at least 8 characters, at most 72 bytes).
passwd and delete end the user's dashboard sessions.
`

// runUser is "wattson user": dashboard users, straight in the database (no
// server needed; a running server sees the change at once).
func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	cmd := args[0]
	fs := flag.NewFlagSet("user "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	db := fs.String("db", envOr("WATTSON_DB", "sqlite:wattson.db"), "database: sqlite:PATH or postgres://…")
	var name, role *string
	switch cmd {
	case "add", "delete", "passwd":
		name = fs.String("name", "", "the username")
		if cmd == "add" {
			role = fs.String("role", "", "admin, operator or viewer")
		}
	case "list":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, userUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "wattson user: unknown command %q\n\n%s", cmd, userUsage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wattson user %s: %s\n", cmd, fmt.Sprintf(format, a...))
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wattson user %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	if name != nil && !store.ValidUsername(*name) {
		fmt.Fprintf(stderr, "wattson user %s: -name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '@' and '-'\n", cmd)
		return 2
	}
	if role != nil && !store.ValidRole(store.Role(*role)) {
		fmt.Fprintf(stderr, "wattson user %s: -role must be admin, operator or viewer\n", cmd)
		return 2
	}
	kind, open, err := openerFor(*db)
	if err != nil {
		fmt.Fprintf(stderr, "wattson user %s: %v\n", cmd, err)
		return 2
	}
	var password string
	if cmd == "add" || cmd == "passwd" {
		if password, err = readPassword(stdin, stderr); err != nil {
			return fail("%v", err)
		}
	}
	st, err := open(ctx)
	if err != nil {
		return fail("opening the %s database: %v", kind, err)
	}
	defer st.Close()

	switch cmd {
	case "add":
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return fail("%v", err)
		}
		_, err = st.CreateUser(ctx, store.User{Username: *name, PasswordHash: string(h), Role: store.Role(*role)})
		if errors.Is(err, store.ErrConflict) {
			return fail("user %s exists already", *name)
		}
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "created user %s (%s)\n", *name, *role)
	case "passwd":
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return fail("%v", err)
		}
		hs := string(h)
		_, err = st.UpdateUser(ctx, *name, store.UserUpdate{PasswordHash: &hs})
		if errors.Is(err, store.ErrNotFound) {
			return fail("no user %s", *name)
		}
		if err != nil {
			return fail("%v", err)
		}
		n, err := st.DeleteUserSessions(ctx, *name, nil)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "changed the password of %s; ended %d session(s)\n", *name, n)
	case "delete":
		err := st.DeleteUser(ctx, *name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fail("no user %s", *name)
		case errors.Is(err, store.ErrLastAdmin):
			return fail("%s is the last admin; make another user admin first", *name)
		case err != nil:
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "deleted user %s\n", *name)
	case "list":
		us, err := st.ListUsers(ctx)
		if err != nil {
			return fail("%v", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tCREATED\tLAST LOGIN")
		for _, u := range us {
			last := "never"
			if u.LastLoginAt != nil {
				last = u.LastLoginAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Username, u.Role, u.CreatedAt.Format(time.RFC3339), last)
		}
		_ = tw.Flush()
	}
	return 0
}

// readPassword reads a new password from WATTSON_USER_PASSWORD or the
// first line of stdin, prompting when stdin is a terminal (the input is
// echoed: prefer the environment variable or a pipe).
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	pw, ok := os.LookupEnv("WATTSON_USER_PASSWORD")
	if !ok {
		if f, isFile := stdin.(*os.File); isFile {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(stderr, "password (echoed): ")
			}
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", errors.New("no password: set WATTSON_USER_PASSWORD or write it to standard input")
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if len(pw) > 72 || !utf8.ValidString(pw) || utf8.RuneCountInString(pw) < 8 {
		return "", errors.New("the password must be at least 8 characters and at most 72 bytes of UTF-8 text")
	}
	return pw, nil
}

// newPassword returns a random password of 20 characters (100 bits).
func newPassword() string { return rand.Text()[:20] }

// firstUser makes sure someone can log in to the dashboard. On a database
// without users it creates "admin" with a random password and logs it once,
// at WARN. In demo mode it creates (or, if it exists, gives a new password
// to) the admin user "demo" and returns its credentials for the demo's log
// line instead.
func firstUser(ctx context.Context, st store.Store, demo bool, log *slog.Logger) (name, password string, err error) {
	password = newPassword()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", "", err
	}
	hash := string(h)
	if demo {
		_, err := st.CreateUser(ctx, store.User{Username: "demo", PasswordHash: hash, Role: store.RoleAdmin})
		if errors.Is(err, store.ErrConflict) {
			_, err = st.UpdateUser(ctx, "demo", store.UserUpdate{PasswordHash: &hash})
		}
		if err != nil {
			return "", "", fmt.Errorf("creating the demo user: %w", err)
		}
		return "demo", password, nil
	}
	us, err := st.ListUsers(ctx)
	if err != nil {
		return "", "", fmt.Errorf("reading the users: %w", err)
	}
	if len(us) > 0 {
		return "", "", nil
	}
	_, err = st.CreateUser(ctx, store.User{Username: "admin", PasswordHash: hash, Role: store.RoleAdmin})
	if errors.Is(err, store.ErrConflict) {
		return "", "", nil // another node was first
	}
	if err != nil {
		return "", "", fmt.Errorf("creating the first user: %w", err)
	}
	log.Warn("first start: created user admin with password "+password+" — change it (dashboard, or wattson user passwd -name admin); this is the only time it is shown",
		"user", "admin", "password", password)
	return "admin", password, nil
}
