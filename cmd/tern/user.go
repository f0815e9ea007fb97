package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/tern-xmpp/tern/internal/auth/sasl"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/feature/register"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
)

const userHelp = `Usage: tern user <add|del|passwd|list> [flags] [arguments]

Manages accounts in the configured storage directly (the server may be
running). Passwords are never taken from the command line, and must have
at least limits.min_password_length characters (default 8).

  tern user add alice@localhost            prompt for a password (twice)
  tern user add alice@localhost --password-file pw.txt
  echo 'correct-horse' | tern user add alice@localhost --password-file -
  tern user passwd alice@localhost         change a password
  tern user del alice@localhost [--yes]    delete the account and all its data
  tern user list [domain]                  list accounts of one or all domains

Every subcommand takes --config FILE and --data DIR, as tern serve does.
`

func cmdUser(e *env, args []string) int {
	subs := map[string]func(*env, []string) int{
		"add": userAdd, "del": userDel, "passwd": userPasswd, "list": userList,
	}
	if len(args) == 0 {
		fmt.Fprint(e.stderr, userHelp)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, userHelp)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tern user: unknown subcommand %q\n", args[0])
		fmt.Fprint(e.stderr, userHelp)
		return 2
	}
	return sub(e, args[1:])
}

// account is the parsed JID argument of add/del/passwd.
type account struct{ domain, local string }

func (a account) String() string { return a.local + "@" + a.domain }

// parseAccount accepts a bare JID of a configured domain.
func parseAccount(cfg *config.Config, s string) (account, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return account{}, fmt.Errorf("%q is not a valid JID: %v", s, err)
	}
	if j.Local() == "" || j.Resource() != "" {
		return account{}, fmt.Errorf("%q is not a bare JID: write user@domain, e.g. alice@%s", s, cfg.Domains[0].Name)
	}
	if _, ok := cfg.Domain(j.Domain()); !ok {
		return account{}, fmt.Errorf("%s is not a configured domain (configured: %v): add a [[domain]] or use --config", j.Domain(), cfg.DomainNames())
	}
	return account{j.Domain(), j.Local()}, nil
}

type userCmd struct {
	e  *env
	fs *flag.FlagSet
	cf configFlags
}

func newUserCmd(e *env, name, help string) *userCmd {
	u := &userCmd{e: e, fs: e.flags("user "+name, help)}
	u.cf.register(u.fs)
	return u
}

// setup parses args, loads the configuration and opens the store. It
// takes exactly one positional argument, or at most one if optional.
func (u *userCmd) setup(args []string, optional bool) (cfg *config.Config, st storage.Store, pos []string, code int, ok bool) {
	pos, code, ok = u.e.parse(u.fs, args)
	if !ok {
		return nil, nil, nil, code, false
	}
	switch {
	case len(pos) > 1:
		return nil, nil, nil, u.e.usageError(u.fs, "too many arguments: %q", pos[1:]), false
	case len(pos) == 0 && !optional:
		return nil, nil, nil, u.e.usageError(u.fs, "missing the account, e.g. alice@localhost"), false
	}
	cfg, err := u.cf.load()
	if err != nil {
		return nil, nil, nil, u.e.fail("%v", err), false
	}
	st, err = openStore(u.e.ctx, cfg)
	if err != nil {
		return nil, nil, nil, u.e.fail("cannot open storage: %v", err), false
	}
	return cfg, st, pos, 0, true
}

// credentials reads the password (prompt or file), checks its length and
// derives the SCRAM credentials of acct; ok=false carries the exit code.
func (u *userCmd) credentials(cfg *config.Config, pwFile string, acct account) (storage.User, int, bool) {
	pw, err := u.e.readPassword(pwFile, acct.String())
	if errors.Is(err, errNeedPasswordSource) {
		return storage.User{}, u.e.usageError(u.fs, "%v", err), false
	}
	if err != nil {
		return storage.User{}, u.e.fail("%v", err), false
	}
	if err := register.CheckPassword(pw, cfg.Limits.MinPasswordLength); err != nil {
		return storage.User{}, u.e.fail("%v", err), false
	}
	user, err := sasl.NewUser(acct.domain, acct.local, pw)
	if err != nil {
		return storage.User{}, u.e.fail("%v", err), false
	}
	return user, 0, true
}

const userAddHelp = `Usage: tern user add USER@DOMAIN [--password-file FILE|-] [--config FILE] [--data DIR]

Creates an account. The password is prompted twice, or read from the first
line of FILE ("-": stdin). DOMAIN must be a configured domain.
`

func userAdd(e *env, args []string) int {
	u := newUserCmd(e, "add", userAddHelp)
	pwFile := u.fs.String("password-file", "", "read the password from the first line of `file` (\"-\": stdin)")
	cfg, st, pos, code, ok := u.setup(args, false)
	if !ok {
		return code
	}
	defer st.Close()
	acct, err := parseAccount(cfg, pos[0])
	if err != nil {
		return e.fail("%v", err)
	}
	if _, err := st.Users().GetUser(e.ctx, acct.domain, acct.local); err == nil {
		return e.fail("%s already exists: change its password with `tern user passwd %s`", acct, acct)
	}
	user, code, ok := u.credentials(cfg, *pwFile, acct)
	if !ok {
		return code
	}
	if err := st.Users().CreateUser(e.ctx, user); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return e.fail("%s already exists: change its password with `tern user passwd %s`", acct, acct)
		}
		return e.fail("creating %s: %v", acct, err)
	}
	fmt.Fprintf(e.stdout, "created %s\n", acct)
	return 0
}

const userPasswdHelp = `Usage: tern user passwd USER@DOMAIN [--password-file FILE|-] [--config FILE] [--data DIR]

Sets a new password. Sessions already logged in stay logged in.
`

func userPasswd(e *env, args []string) int {
	u := newUserCmd(e, "passwd", userPasswdHelp)
	pwFile := u.fs.String("password-file", "", "read the password from the first line of `file` (\"-\": stdin)")
	cfg, st, pos, code, ok := u.setup(args, false)
	if !ok {
		return code
	}
	defer st.Close()
	acct, err := parseAccount(cfg, pos[0])
	if err != nil {
		return e.fail("%v", err)
	}
	old, err := st.Users().GetUser(e.ctx, acct.domain, acct.local)
	if errors.Is(err, storage.ErrNotFound) {
		return e.fail("no account %s: create it with `tern user add %s`", acct, acct)
	} else if err != nil {
		return e.fail("%v", err)
	}
	user, code, ok := u.credentials(cfg, *pwFile, acct)
	if !ok {
		return code
	}
	user.Created = old.Created
	if err := st.Users().SetCredentials(e.ctx, user); err != nil {
		return e.fail("changing the password of %s: %v", acct, err)
	}
	fmt.Fprintf(e.stdout, "changed the password of %s\n", acct)
	return 0
}

const userDelHelp = `Usage: tern user del USER@DOMAIN [--yes] [--config FILE] [--data DIR]

Deletes an account and everything it owns (roster, offline messages,
vCard, block list). Asks for confirmation unless --yes.

When the server of this data directory is running, it does the deletion
(through its control socket, <data_dir>/tern.sock): the account's contacts
are told that the subscriptions are over, as when a user deletes their own
account in-band (XEP-0077), and its open sessions end at once. When no
server runs, the account is deleted from the database alone and its
contacts are not told: their rosters keep the name until they remove it.
`

func userDel(e *env, args []string) int {
	u := newUserCmd(e, "del", userDelHelp)
	yes := u.fs.Bool("yes", false, "do not ask for confirmation")
	cfg, st, pos, code, ok := u.setup(args, false)
	if !ok {
		return code
	}
	defer st.Close()
	acct, err := parseAccount(cfg, pos[0])
	if err != nil {
		return e.fail("%v", err)
	}
	if _, err := st.Users().GetUser(e.ctx, acct.domain, acct.local); errors.Is(err, storage.ErrNotFound) {
		return e.fail("no account %s", acct)
	} else if err != nil {
		return e.fail("%v", err)
	}
	if !*yes && !e.confirm(fmt.Sprintf("Delete %s and all its data?", acct)) {
		return e.fail("not deleted")
	}
	text, err := control.Call(e.ctx, cfg.ControlSocket(), "user.del", map[string]string{"jid": acct.String()})
	switch {
	case err == nil:
		fmt.Fprintln(e.stdout, text)
		return 0
	case !errors.Is(err, control.ErrNotRunning):
		return e.fail("the running server did not delete %s: %v", acct, err)
	}
	if err := st.Users().DeleteUser(e.ctx, acct.domain, acct.local); err != nil {
		return e.fail("deleting %s: %v", acct, err)
	}
	// The Direct messages its inbox kept as files go too (the server's
	// hook does it when it runs).
	if err := os.RemoveAll(messages.AccountInboxDir(cfg.DirectDir(), acct.String())); err != nil {
		fmt.Fprintf(e.stderr, "the Direct inbox files of %s were not removed: %v\n", acct, err)
	}
	fmt.Fprintf(e.stdout, "deleted %s from the database (no server answers on %s: its contacts were not told)\n", acct, cfg.ControlSocket())
	return 0
}

const userListHelp = `Usage: tern user list [DOMAIN] [--config FILE] [--data DIR]

Lists the accounts of DOMAIN, or of every configured domain, one JID a line.
`

func userList(e *env, args []string) int {
	u := newUserCmd(e, "list", userListHelp)
	cfg, st, pos, code, ok := u.setup(args, true)
	if !ok {
		return code
	}
	defer st.Close()
	domains := cfg.DomainNames()
	if len(pos) == 1 {
		d, err := config.PrepareDomain(pos[0])
		if err != nil {
			return e.fail("%v", err)
		}
		if _, ok := cfg.Domain(d); !ok {
			return e.fail("%s is not a configured domain (configured: %v)", d, domains)
		}
		domains = []string{d}
	}
	for _, d := range domains {
		names, err := st.Users().ListUsers(e.ctx, d)
		if err != nil {
			return e.fail("listing %s: %v", d, err)
		}
		for _, n := range names {
			fmt.Fprintf(e.stdout, "%s@%s\n", n, d)
		}
	}
	return 0
}
