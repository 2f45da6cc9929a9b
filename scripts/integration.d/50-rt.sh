# Request Tracker 5 (Debian's request-tracker5, rt5-db-sqlite and
# rt5-standalone) for adapters/rt. The packages are preseeded so that
# apt-get installs them without a question (their dbconfig-common step
# makes the package's own SQLite database; the test does not use it). The
# start function makes a fresh database under $IT_DIR with
# rt-setup-database, creates the queue, custom fields, user, rights and
# token the adapter's README asks for, and runs rt-server on 127.0.0.1.
# Exports ACDBRIDGE_IT_RT_URL (RT's address; the web path is / under
# rt-server), ACDBRIDGE_IT_RT_TOKEN (an auth token of the user
# "acdbridge"), ACDBRIDGE_IT_RT_USER and ACDBRIDGE_IT_RT_PASSWORD (the same
# user, for basic authentication).
APT_PACKAGES+=(request-tracker5 rt5-db-sqlite rt5-standalone)
STARTERS+=(start_rt)
STOPPERS+=(stop_rt)

# The installer's questions, answered before apt-get runs (this file is
# sourced first). The names are the packages' debconf templates.
if ! dpkg -s request-tracker5 >/dev/null 2>&1; then
  rt_sudo=""; [ "$(id -u)" -eq 0 ] || rt_sudo=sudo
  $rt_sudo debconf-set-selections <<'EOF'
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
request-tracker5 request-tracker5/initial-root-password password acdbridge-it-root
request-tracker5 request-tracker5/rtname string acdbridge-it
request-tracker5 request-tracker5/organization string acdbridge-it
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1
request-tracker5 request-tracker5/webpath string /rt
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
rt5-db-sqlite rt5-db-sqlite/available boolean true
EOF
fi


start_rt() {
  local dir="$IT_DIR/rt" port
  free_port port
  mkdir -p "$dir/RT_SiteConfig.d"
  # The package's settings (database type, paths), then this run's: the
  # database, the address, logs to files here, mail to a file.
  cp /etc/request-tracker5/RT_SiteConfig.d/*.pm "$dir/RT_SiteConfig.d/"
  cat >"$dir/RT_SiteConfig.d/99-acdbridge-it.pm" <<EOF
Set(\$DatabaseType, 'SQLite');
Set(\$DatabaseName, '$dir/rtdb');
Set(\$WebBaseURL, 'http://127.0.0.1:$port');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $port);
Set(\$WebPath, '');
Set(\$LogToSyslog, undef);
Set(\$LogToSTDERR, 'warning');
Set(\$LogToFile, 'info');
Set(\$LogDir, '$dir');
Set(\$LogToFileNamed, 'rt.log');
Set(\$MailCommand, 'sendmailpipe');
Set(\$SendmailPath, '$dir/sendmail');
1;
EOF
  # RT mails the requestor about a new ticket: the mail goes to a file here.
  printf '#!/bin/sh\ncat >>"%s/mail.txt"\n' "$dir" >"$dir/sendmail"
  chmod +x "$dir/sendmail"
  export RT_SITE_CONFIG_DIR="$dir/RT_SiteConfig.d"
  if ! rt-setup-database --action init --skip-create >"$dir/setup-database.log" 2>&1; then
    tail -n 30 "$dir/setup-database.log" >&2
    return 1
  fi
  # What adapters/rt/README.md asks of an RT: a user with rights on the
  # queues, the custom fields, and an auth token. The token is printed.
  local token
  if ! token=$(perl -I/usr/share/request-tracker5/lib -e '
    use strict; use warnings;
    use RT; RT::LoadConfig(); RT::Init();
    my $sys = RT->SystemUser;
    sub check { my ($what, $ok, $msg) = @_; die "$what: $msg\n" unless $ok; }
    my $q = RT::Queue->new($sys);
    check("queue Printers", $q->Create(Name => "Printers"));
    for my $name ("Serial number", "Account") {
      my $cf = RT::CustomField->new($sys);
      check("custom field $name", $cf->Create(Name => $name, Type => "FreeformSingle", LookupType => "RT::Queue-RT::Ticket"));
      check("apply $name", $cf->AddToObject(RT::Queue->new($sys))); # to every queue
    }
    my $u = RT::User->new($sys);
    check("user acdbridge", $u->Create(Name => "acdbridge", EmailAddress => "acdbridge\@localhost", Privileged => 1));
    check("password", $u->SetPassword("acdbridge-it-pw"));
    # ShowTicketComments: the adapter reads the history for its comment.
    for my $right (qw(SeeQueue CreateTicket ShowTicket CommentOnTicket ModifyTicket SeeCustomField ModifyCustomField ShowTicketComments)) {
      check("right $right", $u->PrincipalObj->GrantRight(Right => $right, Object => RT->System));
    }
    my $t = RT::AuthToken->new($sys);
    my ($id, $msg, $token) = $t->Create(Owner => $u->Id, Description => "acdbridge integration test");
    check("token", $id, $msg);
    print "$token\n";
  ' 2>"$dir/setup.log"); then
    cat "$dir/setup.log" >&2
    return 1
  fi
  /usr/share/request-tracker5/libexec/rt-server --listen "127.0.0.1:$port" >"$dir/rt-server.log" 2>&1 &
  pids+=($!)
  echo $! >"$dir/rt-server.pid"
  if ! wait_port 127.0.0.1 "$port" 120; then
    tail -n 30 "$dir/rt-server.log" >&2
    return 1
  fi
  # The port opens before the workers can answer: wait for REST2 itself.
  local deadline=$((SECONDS + 120))
  until curl -fsS -o /dev/null -H "Authorization: token $token" "http://127.0.0.1:$port/REST/2.0/queues/all"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "integration: RT's REST2 does not answer on 127.0.0.1:$port" >&2
      tail -n 30 "$dir/rt-server.log" >&2
      return 1
    fi
    sleep 0.5
  done
  unset RT_SITE_CONFIG_DIR
  export ACDBRIDGE_IT_RT_URL="http://127.0.0.1:$port"
  export ACDBRIDGE_IT_RT_TOKEN="$token"
  export ACDBRIDGE_IT_RT_USER="acdbridge"
  export ACDBRIDGE_IT_RT_PASSWORD="acdbridge-it-pw"
}

stop_rt() {
  local f="$IT_DIR/rt/rt-server.pid"
  [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
}
