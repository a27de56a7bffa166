package IoT::Test;

# The process harness for nginx-iot, written on Test::More (Test::Nginx is
# not packaged for Debian): a temporary prefix, free ports, the
# configuration, start/stop/reload/restart, workers and kill -9, error log
# slices, valgrind.  It speaks HTTP only as raw requests; the dialects'
# clients (request helpers, error checks) build on that in their own
# modules (IoT::Client and its subclasses, e.g. IoT::Collections).  See
# t/README.md.
#
#   my $t = IoT::Test->new(workers => 2);   # writes the config, picks ports
#   $t->start;
#   my ($status, $headers, $body) = $t->http(GET => '/');
#   $t->finish;       # stops nginx, checks the error log and valgrind logs
#   done_testing;

use strict;
use warnings;

use Test::More;
use Exporter 'import';
use File::Temp ();
use File::Path ();
use File::Spec;
use Cwd ();
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes ();
use HTTP::Tiny;

our @EXPORT = qw(wait_until);

my $ROOT = Cwd::abs_path(
    File::Spec->catdir((File::Spec->splitpath(__FILE__))[1], '..', '..', '..')
);

our $VALGRIND = $ENV{IOT_TEST_VALGRIND} ? 1 : 0;
# the module and nginx built with ASan and UBSan (IOT_SANITIZE=1 ./build.sh
# test): their reports go to san/asan.<pid> and san/ubsan.<pid>
our $SANITIZE = $ENV{IOT_TEST_SANITIZE} ? 1 : 0;
our $NGINX    = $ENV{IOT_TEST_NGINX}  || '/usr/sbin/nginx';
# IOT_TEST_MODULE=static: the module is built into IOT_TEST_NGINX
our $MODULE   = $ENV{IOT_TEST_MODULE} || "$ROOT/build/ngx_iot_module.so";
our $STATIC   = $MODULE eq 'static';
our $STREAM_MODULE = exists $ENV{IOT_TEST_STREAM_MODULE}
                     ? $ENV{IOT_TEST_STREAM_MODULE}
                     : '/usr/lib/nginx/modules/ngx_stream_module.so';

our $GDB      = $ENV{IOT_TEST_GDB}    || '/usr/bin/gdb';

# timeouts (seconds); everything is several times slower under valgrind
our $TIMEOUT = $ENV{IOT_TEST_TIMEOUT} || ($VALGRIND ? 180 : 15);

my @INSTANCES;

sub root { $ROOT }

sub new {
    my ($class, %o) = @_;

    my $self = bless {
        workers     => 2,
        zone        => '16m',
        zone_name   => 'iot',
        store       => 'var/iot.db',
        load_conf   => '',    # the first lines (before any directive)
        main_conf   => '',
        stream_conf => '',    # a whole stream { } body, when given
        http_conf   => '',
        server_conf => '',
        # the server's location blocks: which dialect is mounted where
        location    => "location / { iot_api collections; }\n",
        body_max    => '64k',
        reuseport   => 1,
        module      => 1,     # 0: plain nginx (harness self-test)
        log_level   => 'debug',   # the error log's level (bench/soak.pl: info)
        %o,
    }, $class;

    if ($self->{module} && !$STATIC && !-f $MODULE) {
        BAIL_OUT("module not built: $MODULE (run ./build.sh build)");
    }

    $self->{dir} = File::Temp::tempdir('iot-test-XXXXXXXX', TMPDIR => 1,
                                       CLEANUP => 0);
    chmod 0755, $self->{dir};
    for my $d (qw(conf logs var)) {
        mkdir "$self->{dir}/$d", 0755 or die "mkdir $d: $!";
        chmod 0755, "$self->{dir}/$d";
    }
    if ($SANITIZE) {
        # the workers (the user directive's user) write their reports too
        mkdir "$self->{dir}/san" or die "mkdir san: $!";
        chmod 01777, "$self->{dir}/san";
    }

    $self->{port} = $self->{port} || free_port('tcp');
    $self->{log_mark} = 0;
    $self->{imsi_seq} = 100000 + int(rand(800000));

    $self->{http} = HTTP::Tiny->new(
        keep_alive   => 0,
        max_redirect => 0,
        timeout      => $TIMEOUT,
        agent        => 'iot-test/1',
    );

    push @INSTANCES, $self;
    $self->write_config;
    return $self;
}

sub dir    { $_[0]{dir} }
sub port   { $_[0]{port} }
sub prefix { $_[0]{dir} }
sub url    { "http://127.0.0.1:$_[0]{port}$_[1]" }
sub pid    { $_[0]{pid} }

# $t->sql('SELECT ...'): the sqlite3 shell's output over the store, for a
# test that looks into it or rewinds it (nginx stopped, or waiting up to
# 5 s for its lock); dies when sqlite3 fails
sub sql {
    my ($self, $q) = @_;
    my $db = "$self->{dir}/var/iot.db";
    my $out = `sqlite3 -cmd '.timeout 5000' '$db' "$q" 2>&1`;
    die "sqlite3: $out" if $?;
    chomp $out;
    return $out;
}

sub free_port {
    my ($proto) = @_;
    my $s = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto     => $proto || 'tcp',
        ($proto && $proto eq 'udp') ? () : (Listen => 1),
        ReuseAddr => 0,
    ) or die "cannot bind a free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub write_config {
    my ($self, %o) = @_;
    $self->{$_} = $o{$_} for keys %o;

    my $load = '';
    if ($self->{module} && !$STATIC) {
        $load .= "load_module $STREAM_MODULE;\n"
            if $STREAM_MODULE && -f $STREAM_MODULE;
        $load .= "load_module $MODULE;\n";
    }
    # lines that must come first, e.g. a Debian modules-enabled include
    $load .= $self->{load_conf} if $self->{load_conf};

    my $iot = '';
    if ($self->{module}) {
        $iot = "iot_zone $self->{zone_name}:$self->{zone};\n"
             . "iot_store $self->{store};\n"
             . "iot_admin_token_file var/admin.token;\n";
    }

    my $reuse = $self->{reuseport} ? ' reuseport' : '';

    my $conf = <<"EOF";
$load
worker_processes $self->{workers};
daemon off;
master_process on;
pid logs/nginx.pid;
error_log logs/error.log $self->{log_level};

events { worker_connections 1024; }

$iot
$self->{main_conf}

@{[ length $self->{stream_conf} ? "stream {\n$self->{stream_conf}\n}\n" : '' ]}
http {
    access_log off;
    client_max_body_size $self->{body_max};
    client_body_temp_path var/client_body_temp;
    proxy_temp_path var/proxy_temp;
    fastcgi_temp_path var/fastcgi_temp;
    uwsgi_temp_path var/uwsgi_temp;
    scgi_temp_path var/scgi_temp;

$self->{http_conf}

    server {
        listen 127.0.0.1:$self->{port}$reuse;
        add_header X-Worker \$pid always;

$self->{server_conf}

$self->{location}
    }
}
EOF

    open my $fh, '>', "$self->{dir}/conf/nginx.conf" or die "conf: $!";
    print $fh $conf;
    close $fh;
    return $conf;
}

# ---------------------------------------------------------------- processes

sub _spawn {
    my ($self) = @_;
    my $d = $self->{dir};

    my @cmd = ($NGINX, '-p', "$d/", '-c', "$d/conf/nginx.conf",
               '-e', "$d/logs/error.log");

    if ($VALGRIND) {
        $self->_write_suppressions;
        unshift @cmd, 'valgrind', '--leak-check=full',
            '--error-exitcode=42', '--trace-children=yes',
            '--num-callers=30', '--track-fds=no',
            "--suppressions=$d/conf/valgrind.supp",
            "--log-file=$d/logs/valgrind.%p.log",
            split(' ', $ENV{IOT_TEST_VALGRIND_OPTS} || '');
    }

    my $pid = fork;
    die "fork: $!" unless defined $pid;
    $self->{last_pid} = $pid if $pid;
    if ($pid == 0) {
        if ($SANITIZE) {
            # leaks are valgrind's part (IOT_TEST_VALGRIND): nginx leaves
            # its pools to the exit of a process
            # nginx's dynamic modules each define ngx_module_names: an
            # "ODR violation" by design
            $ENV{ASAN_OPTIONS} = "log_path=$d/san/asan:detect_leaks=0"
                . ':abort_on_error=0:detect_odr_violation=0';
            $ENV{UBSAN_OPTIONS} = "log_path=$d/san/ubsan"
                . ':print_stacktrace=1:halt_on_error=0'
                . ":suppressions=$ROOT/t/sanitizers/ubsan.supp";
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$d/logs/stdout.log";
        open STDERR, '>>', "$d/logs/stderr.log";
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

# start nginx and wait until it answers; dies (with the log tail) if not
sub start {
    my ($self) = @_;
    die "already running" if $self->{pid};

    my $pid = $self->_spawn;
    $self->{pid} = $pid;

    my $ok = wait_until(sub {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            $self->{exit} = $?;
            return -1;
        }
        return 0 unless $self->_answers;
        return scalar(@{[ $self->workers ]}) >= $self->{workers};
    }, $TIMEOUT);

    if (!$ok || $ok == -1) {
        my $why = $ok ? "nginx exited (status $self->{exit})"
                      : "nginx did not answer within ${TIMEOUT}s";
        $self->{pid} = undef if $ok;
        diag($why);
        diag($self->log_tail(40));
        diag($self->stderr_tail);
        $self->stop if $self->{pid};
        die "$why\n";
    }

    $self->{admin_token} = $self->read_admin_token if $self->{module};
    $self->{known_workers} = { map { $_ => 1 } $self->workers };
    return $self;
}

# start nginx expecting it to fail; returns its exit status (undef if it is
# still running after the timeout, in which case it is stopped)
sub start_should_fail {
    my ($self) = @_;
    my $pid = $self->_spawn;
    $self->{pid} = $pid;
    my $st;
    wait_until(sub {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) { $st = $?; return 1 }
        return 0;
    }, $TIMEOUT);
    if (defined $st) {
        $self->{pid} = undef;
        return $st;
    }
    $self->stop;
    return undef;
}

sub _answers {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => 2)
        or return 0;
    close $s;
    my $res = $self->{http}->request('GET', $self->url('/'));
    return $res->{status} != 599;
}

sub read_admin_token {
    my ($self) = @_;
    my $f = "$self->{dir}/var/admin.token";
    open my $fh, '<', $f or die "cannot read $f: $!";
    local $/;
    my $tok = <$fh>;
    close $fh;
    $tok =~ s/\s+//g;
    return $tok;
}

sub admin_token { $_[0]{admin_token} }

# stop: QUIT, then TERM, then KILL; returns the exit status of the master
sub stop {
    my ($self) = @_;
    my $pid = $self->{pid} or return;
    my @workers = $self->workers;
    my $st;

    for my $sig (qw(QUIT TERM KILL)) {
        kill $sig, $pid;
        my $done = wait_until(sub {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid || $r == -1) { $st = $?; return 1 }
            return 0;
        }, $sig eq 'KILL' ? 10 : $TIMEOUT);
        if ($done) {
            diag("nginx needed SIG$sig to stop") if $sig ne 'QUIT';
            last;
        }
    }

    # workers left behind by a killed master
    for my $w (@workers) {
        kill 'KILL', $w if _alive($w);
    }

    $self->{pid} = undef;
    $self->{exit} = $st;
    return $st;
}

sub restart {
    my ($self, %conf) = @_;
    $self->stop;
    $self->write_config(%conf) if %conf;
    $self->start;
}

# HUP the master; wait until the old workers are gone and new ones answer
sub reload {
    my ($self, %conf) = @_;
    $self->write_config(%conf) if %conf;
    my %old = map { $_ => 1 } $self->workers;
    kill 'HUP', $self->{pid};
    my $ok = wait_until(sub {
        my @w = $self->workers;
        return 0 if grep { $old{$_} } @w;
        return 0 if @w < $self->{workers};
        return $self->_answers;
    }, $TIMEOUT);
    die "reload did not complete\n" . $self->log_tail(30) unless $ok;
    $self->{known_workers} = { map { $_ => 1 } $self->workers };
    return $self->workers;
}

sub _alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $s = <$fh>;
    close $fh;
    return 0 unless $s;
    my ($state) = $s =~ /\)\s+(\S)/;
    return $state && $state ne 'Z' && $state ne 'X';
}

# children of the master (the worker processes), excluding zombies
sub workers {
    my ($self) = @_;
    my $master = $self->{pid} or return ();
    my @w;
    opendir my $dh, '/proc' or return ();
    for my $p (grep { /^\d+\z/ } readdir $dh) {
        open my $fh, '<', "/proc/$p/stat" or next;
        my $s = <$fh>;
        close $fh;
        next unless $s && $s =~ /\)\s+(\S)\s+(\d+)/;
        my ($state, $ppid) = ($1, $2);
        next unless $ppid == $master;
        next if $state eq 'Z' || $state eq 'X';
        unless ($VALGRIND) {
            open my $c, '<', "/proc/$p/cmdline" or next;
            my $cmd = do { local $/; <$c> } // '';
            close $c;
            next if $cmd =~ /shutting down/;
            next unless $cmd =~ /worker process/;
        }
        push @w, $p;
    }
    closedir $dh;
    return sort { $a <=> $b } @w;
}

# kill -9 a worker, wait until the master has respawned one and it answers;
# returns the new list of workers
sub kill_worker {
    my ($self, $pid) = @_;
    my %before = map { $_ => 1 } $self->workers;
    die "$pid is not a worker of this nginx" unless $before{$pid};
    kill 'KILL', $pid;
    my $ok = wait_until(sub {
        my @w = $self->workers;
        return 0 if grep { $_ == $pid } @w;
        return 0 if @w < $self->{workers};
        return $self->_answers;
    }, $TIMEOUT);
    die "worker $pid was not replaced\n" . $self->log_tail(30) unless $ok;
    return $self->workers;
}

# ---------------------------------------------------------------- http

# one HTTP request, in no dialect: ($status, \%headers, $raw_body)
#   headers => { name => value }   sent as given
#   body    => bytes               sent as the request body
# The headers are HTTP::Tiny's (lower-case names); a transport failure is
# status 599 and is shown with diag.
sub http {
    my ($self, $method, $path, %o) = @_;
    my %args = (headers => { %{ $o{headers} || {} } });
    $args{content} = $o{body} if exists $o{body};
    my $res = $self->{http}->request($method, $self->url($path), \%args);
    if ($res->{status} == 599) {
        diag("$method $path: transport error: $res->{content}");
    }
    return ($res->{status}, $res->{headers}, $res->{content} // '');
}

# the worker that answered, from the X-Worker header every server adds
sub worker_of {
    my ($self, $headers) = @_;
    return $headers->{'x-worker'};
}

# repeat $code until its answer (a hashref with a `worker` key) comes from
# a worker other than $pid; returns that answer (or undef after many tries)
sub from_other_worker {
    my ($self, $pid, $code) = @_;
    for (1 .. 200) {
        my $r = $code->();
        return $r if defined $r->{worker} && $r->{worker} != $pid;
    }
    return undef;
}

# repeat $code until every current worker answered at least once;
# returns { pid => [answers...] } (answers without a worker under 'none')
sub from_every_worker {
    my ($self, $code) = @_;
    my %want = map { $_ => 1 } $self->workers;
    my %got;
    for (1 .. 300) {
        my $r = $code->();
        push @{ $got{ $r->{worker} // 'none' } }, $r;
        last unless grep { !$got{$_} } keys %want;
    }
    return \%got;
}

# run $code in $n forked clients at once; each returns a list of strings;
# returns [ [strings of client 1], ... ].  The children leave with _exit, so
# the harness's END block (which stops nginx) never runs in them.
sub parallel {
    my ($self, $n, $code) = @_;
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $r;
            my @out = eval { $code->($i) };
            @out = ("died: $@") if $@;
            print $w map { "$_\n" } @out;
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    my @res;
    for my $k (@kids) {
        my $fh = $k->[1];
        my @lines = <$fh>;
        close $fh;
        waitpid $k->[0], 0;
        chomp @lines;
        push @res, \@lines;
    }
    return \@res;
}

# raw bytes over TCP; returns what the server sent back before closing
sub raw_request {
    my ($self, $data, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $self->{port},
                                  Proto => 'tcp', Timeout => $TIMEOUT)
        or return undef;
    my @parts = ref $data ? @$data : ($data);
    for my $i (0 .. $#parts) {
        local $SIG{PIPE} = 'IGNORE';
        $s->syswrite($parts[$i]);
        Time::HiRes::sleep($o{pause}) if $o{pause} && $i < $#parts;
    }
    $s->shutdown(1) if $o{half_close};
    my $buf = '';
    my $deadline = time + $TIMEOUT;
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    while (time < $deadline) {
        my $rout = $rin;
        my $n = select($rout, undef, undef, 1);
        next unless $n;
        my $got = $s->sysread(my $chunk, 65536);
        last unless $got;
        $buf .= $chunk;
        last if $o{until} && $buf =~ $o{until};
    }
    close $s;
    return $buf;
}

# parse a raw HTTP/1.1 answer: ($status, \%headers, $body)
sub parse_response {
    my ($raw) = @_;
    return (0, {}, '') unless defined $raw && $raw =~ m{^HTTP/1\.\d (\d{3})};
    my $st = $1;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my %h;
    for my $l (split /\r\n/, $head) {
        $h{ lc $1 } = $2 if $l =~ /^([^:]+):\s*(.*)$/;
    }
    $body //= '';
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $body = $out;
    }
    return ($st, \%h, $body);
}

# ---------------------------------------------------------------- helpers

# fresh device identifiers, unique within this nginx (a random start, then
# one sequence for both kinds): identifiers are unique across the whole
# registry whichever dialect or RADIUS uses them
sub next_imsi { my $s = shift; sprintf '24201%010d', $s->{imsi_seq}++ }
sub next_imei { my $s = shift; sprintf '35265%010d', $s->{imsi_seq}++ }

# poll $code until it returns true (returns its value) or $timeout passes
sub wait_until {
    my ($code, $timeout) = @_;
    my $end = Time::HiRes::time() + ($timeout // $TIMEOUT);
    my $delay = 0.02;
    while (1) {
        my $r = $code->();
        return $r if $r;
        return 0 if Time::HiRes::time() > $end;
        Time::HiRes::sleep($delay);
        $delay = 0.2 if ($delay *= 2) > 0.2;
    }
}

# ---------------------------------------------------------------- logs

sub error_log_file { "$_[0]{dir}/logs/error.log" }

sub read_log {
    my ($self, $from) = @_;
    open my $fh, '<', $self->error_log_file or return '';
    binmode $fh;
    seek $fh, $from // 0, 0;
    local $/;
    my $s = <$fh> // '';
    close $fh;
    return $s;
}

sub log_size { -s $_[0]->error_log_file || 0 }

# remember where the current section of the error log starts
sub log_mark {
    my ($self) = @_;
    $self->{log_mark} = $self->log_size;
    return $self->{log_mark};
}

# the log since the mark (or since $from)
sub log_slice {
    my ($self, $from) = @_;
    return $self->read_log($from // $self->{log_mark});
}

sub stderr_tail {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/logs/stderr.log" or return '';
    local $/;
    my $s = <$fh> // '';
    close $fh;
    return '' unless length $s;
    $s = substr($s, -3000) if length $s > 3000;
    return "--- stderr of nginx ---\n$s";
}

sub log_tail {
    my ($self, $n) = @_;
    my @l = grep { !/\[debug\]/ } split /\n/, $self->read_log(0);
    my $s = @l > $n ? $#l - $n + 1 : 0;
    my $out = join("\n", "--- $self->{dir}/logs/error.log (tail) ---",
                   @l[$s .. $#l]);
    if ($VALGRIND && $self->{last_pid}) {
        my $f = "$self->{dir}/logs/valgrind.$self->{last_pid}.log";
        if (open my $fh, '<', $f) {
            my @v = <$fh>;
            close $fh;
            my $vs = @v > 60 ? @v - 60 : 0;
            $out .= "\n--- $f (tail) ---\n" . join('', @v[$vs .. $#v]);
        }
    }
    return $out;
}

# no [alert], [crit] or [emerg] since the mark, except those matching one of
# the allow regexes; moves the mark to the end of the log
sub log_problems {
    my ($self, %o) = @_;
    my @allow = @{ $o{allow} || [] };
    my $slice = $self->log_slice;
    return grep {
        my $l = $_;
        $l =~ /\[(alert|crit|emerg)\]/ && !grep { $l =~ $_ } @allow
    } split /\n/, $slice;
}

sub check_log {
    my ($self, $name, %o) = @_;
    my @bad = $self->log_problems(%o);
    my $ok = ok(!@bad, "error log ($name): no [alert], [crit], [emerg]");
    diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]) unless $ok;
    $self->log_mark;
    return $ok;
}

# ---------------------------------------------------------------- gdb

# run $GDB in batch mode, attached to process $pid, with the commands
# given (each one an -ex; pagination is turned off first); returns a handle
# on gdb's output, which ends when gdb does.  gdb gets `timeout` seconds
# at most (default 60).
#   my $out = $t->gdb($worker, ['break f', 'continue', 'kill']);
sub gdb {
    my ($self, $pid, $commands, %o) = @_;
    my $limit = $o{timeout} // 60;
    open(my $fh, '-|', 'timeout', $limit, $GDB, '-p', $pid, '-batch', '-nx',
         map { ('-ex', $_) } 'set pagination off', @$commands)
        or die "gdb: $!";
    return $fh;
}

# a worker killed in the middle of a request: gdb attaches to worker $pid
# with the commands given (breakpoints, then 'kill'), the code (a request
# that lands on that worker) runs in a child process, and the worker's
# master is left to start a new one.  Returns gdb's output.
#   my $out = $t->die_during($w, ['break f', 'continue', 'kill'],
#                            sub { $api->call(POST => ...) });
sub die_during {
    my ($self, $pid, $commands, $request) = @_;
    my $gdb = $self->gdb($pid, $commands, timeout => 60);
    ok(wait_until(sub { $self->traced_by($pid) }, 30), 'gdb attached');
    sleep 2;    # the breakpoints are set and the worker runs again
    my $kid = fork // die "fork: $!";
    if ($kid == 0) {
        $request->();
        POSIX::_exit(0);
    }
    my $out = do { local $/; <$gdb> };
    close $gdb;
    waitpid $kid, 0;
    return $out;
}

# the pid of the process tracing $pid (gdb once it is attached), or 0
sub traced_by {
    my ($self, $pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^TracerPid:\s+(\d+)/ }
    return 0;
}

# ---------------------------------------------------------------- valgrind

sub _write_suppressions {
    my ($self) = @_;
    my $f = "$self->{dir}/conf/valgrind.supp";
    return if -f $f;
    my $bin = Cwd::abs_path($NGINX);
    open my $fh, '>', $f or die "$f: $!";
    # Stock nginx never frees what it allocates once per process outside
    # pools (crc32 table, environment, the worker's connection and event
    # arrays, and main()'s first pool when the configuration is refused).
    # The stacks are matched frame by frame inside the nginx
    # binary, so an allocation made by the module (whose frames lie in the
    # module or in libsqlite3/libjansson) is never suppressed.
    # With PCRE2, nginx keeps one compile context per process for regular
    # expressions (a regex location: the things dialect's, conf/).
    # glibc keeps each thread's TLS block (the thread pool's threads) where
    # valgrind calls it "possibly lost" once the thread has exited.
    print $fh <<"EOF";
{
   glibc_thread_tls
   Memcheck:Leak
   match-leak-kinds: possible
   fun:calloc
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
}
{
   nginx_pcre2_compile_context_of_regex_locations
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:malloc
   fun:ngx_alloc
   obj:*libpcre2-8.so*
   fun:pcre2_compile_context_create_8
   fun:ngx_regex_compile
}
{
   nginx_crc32_table
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:malloc
   fun:ngx_alloc
   fun:ngx_crc32_table_init
}
{
   nginx_main_init_pool_on_failed_start
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:memalign
   fun:posix_memalign
   fun:ngx_memalign
   fun:ngx_create_pool
   fun:main
}
{
   nginx_set_environment
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
}
{
   nginx_worker_process_init
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:malloc
   fun:ngx_alloc
   obj:$bin
   obj:$bin
   fun:ngx_spawn_process
}
{
   nginx_event_process_init
   Memcheck:Leak
   match-leak-kinds: definite,possible
   fun:malloc
   fun:ngx_alloc
   obj:$bin
   obj:$bin
   obj:$bin
   fun:ngx_spawn_process
}
EOF
    close $fh;
}

sub check_valgrind {
    my ($self) = @_;
    return 1 unless $VALGRIND;
    $self->{valgrind_checked} = 1;
    my @logs = glob "$self->{dir}/logs/valgrind.*.log";
    my $ok = ok(scalar @logs, 'valgrind: logs written');
    for my $f (@logs) {
        my $bad = _valgrind_report($f);
        $ok &= ok(!defined $bad,
                  "valgrind: no errors, nothing definitely lost ($f)");
        diag($bad) if defined $bad;
    }
    return $ok;
}

# the head of a valgrind log with errors or a definite leak, else undef
sub _valgrind_report {
    my ($f) = @_;
    open my $fh, '<', $f or return undef;
    my $s = do { local $/; <$fh> } // '';
    close $fh;
    return undef
        unless $s =~ /ERROR SUMMARY: [1-9]/ || $s =~ /definitely lost: [1-9]/;
    my @l = split /\n/, $s;
    return join "\n", @l[0 .. ($#l > 120 ? 120 : $#l)];
}

sub _sanitizer_reports {
    my ($self) = @_;
    return () unless $SANITIZE && $self->{dir};
    return glob "$self->{dir}/san/asan.* $self->{dir}/san/ubsan.*";
}

sub _show_reports {
    for my $f (@_) {
        open my $fh, '<', $f or next;
        my @l = <$fh>;
        close $fh;
        Test::More->builder->diag("$f:\n"
            . join '', @l[0 .. ($#l > 80 ? 80 : $#l)]);
    }
}

sub check_sanitizers {
    my ($self) = @_;
    return 1 unless $SANITIZE;
    my @reports = $self->_sanitizer_reports;
    my $ok = ok(!@reports, 'sanitizers: no reports');
    _show_reports(@reports);
    $self->{sanitizers_checked} = 1;
    return $ok;
}

# stop nginx, check the rest of the error log, the valgrind logs and the
# sanitizers' reports
sub finish {
    my ($self, %o) = @_;
    $self->stop;
    $self->check_log('end', %o);
    $self->check_valgrind;
    $self->check_sanitizers;
}

sub _cleanup {
    my ($self, $exit) = @_;
    $self->stop if $self->{pid};
    # a test that did not call finish still fails on a sanitizer's report
    if (!$self->{sanitizers_checked} && (my @r = $self->_sanitizer_reports))
    {
        Test::More->builder->diag('sanitizer reports:');
        _show_reports(@r);
        $exit = $self->{sanitizer_failed} = 1;
    }
    # and on valgrind's
    if ($VALGRIND && !$self->{valgrind_checked} && $self->{dir}) {
        for my $f (glob "$self->{dir}/logs/valgrind.*.log") {
            my $bad = _valgrind_report($f) // next;
            Test::More->builder->diag("valgrind ($f):\n$bad");
            $exit = $self->{sanitizer_failed} = 1;
        }
    }
    my $passing = Test::More->builder->is_passing && !$exit;
    if (!$passing || ($ENV{IOT_TEST_KEEP} // '') eq 'always') {
        if ($ENV{IOT_TEST_KEEP}) {
            Test::More->builder->diag("kept test prefix: $self->{dir}");
            return;
        }
        Test::More->builder->diag(
            "test prefix removed; set IOT_TEST_KEEP=1 to keep it on failure");
    }
    File::Path::remove_tree($self->{dir}) if $self->{dir} && -d $self->{dir};
}

END {
    my $st = $?;
    for my $t (@INSTANCES) {
        $t->_cleanup($st);
        $st ||= $t->{sanitizer_failed} ? 1 : 0;
    }
    @INSTANCES = ();
    $? = $st;
}

$SIG{INT} = $SIG{TERM} = sub { exit 130 };

1;
