#!/usr/bin/perl
# The soak test (issue 12; bench/README.md, "Soak test"): one nginx with the
# module on loopback, SOAK_MINUTES of load in every dialect while nginx is
# reloaded every SOAK_RELOAD_S and a worker is killed with kill -9 every
# SOAK_KILL_S; then the checks.  Run by bench/soak.sh; not part of the
# suite (it is long, and it measures).
#
# Load (each its own process):
#   - a writer per dialect: collections (devices created, tags patched,
#     devices deleted, a collection tag), things (devices created, PUT,
#     deleted), iotda (devices created, PUT, shadow PUT, messages, deleted;
#     X-Auth-Token and AK/SK signatures by turns); each keeps a ledger of
#     every write and its answer;
#   - a reader: lists and items of every dialect, the history;
#   - UDP uplinks from SOAK_DEVICES devices attached over RADIUS
#     (127.0.1.x), SOAK_UDP_RATE datagrams a second;
#   - SenML packs over HTTP (the things dialect's ingestion), ledgered;
#   - two WebSocket streams (a collection's, a device's), reconnected
#     whenever they close (a reload closes them with 1001).
# Checks, at the end:
#   - every write answered 2xx is there after a restart (a write whose
#     answer never came may or may not be: it is only counted);
#   - history: received = rows + unrecorded, and what is unrecorded was
#     lost by the killed workers (their log lines), at most two batches
#     of 1024 each per kill (docs/dataplane.md, "the loss window at a
#     crash"); acknowledged SenML packs missing are within it;
#   - PRAGMA integrity_check of the store and the history: ok;
#   - worker memory flat: the mean RssAnon of the workers in the last
#     quarter of the samples at most 10% + 2 MiB over the first quarter
#     (the master's too);
#   - nothing at [alert] or worse in the error log but the killed workers'.
# Results go to SOAK_RESULTS (bench/SOAK.md), raw data to SOAK_OUT.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 qw(decode_base64);
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::Iotda;
use IoT::JSON;
use IoT::WebSocket;
use IoT::Radius qw(radclient);

my $ROOT = IoT::Test::root();
my $MINUTES = $ENV{SOAK_MINUTES} // 10;
my $DUR = $MINUTES * 60;
my $RELOAD_S = $ENV{SOAK_RELOAD_S} // 30;
my $KILL_S = $ENV{SOAK_KILL_S} // 120;
my $UDP_RATE = $ENV{SOAK_UDP_RATE} // 100;
my $NDEV = $ENV{SOAK_DEVICES} // 20;
my $PACE = ($ENV{SOAK_WRITE_PACE_MS} // 50) / 1000;
my $WARM_S = $ENV{SOAK_WARM_S} // 10;
my $SAMPLE_S = $ENV{SOAK_SAMPLE_S} // 5;
my $RSS_PCT = 10;        # the memory threshold: +10% ...
my $RSS_KB = 2048;       # ... + 2 MiB
my $WINDOW = 2 * 1024;   # messages a killed worker may lose
my $STAMP = POSIX::strftime('%Y%m%d-%H%M%S', gmtime);
my $OUT = $ENV{SOAK_OUT} // "$ROOT/bench/out/soak-$STAMP";
my $RESULTS = $ENV{SOAK_RESULTS} // "$ROOT/bench/SOAK.md";
my $SECRET = 'soak-secret';

system('mkdir', '-p', $OUT) == 0 or die "mkdir $OUT\n";
-x '/usr/bin/radclient' or die "soak: radclient is needed (freeradius-utils)\n";
-x '/usr/bin/sqlite3' or die "soak: sqlite3 is needed\n";

my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stats = IoT::Test::free_port('tcp');
my $t = IoT::Test->new(
    zone => '64m', log_level => 'info', body_max => '64k',
    location => $IoT::Iotda::LOCATIONS,
    # every message kept, so that the history's rows can be counted
    main_conf => "iot_history_max_count 0;\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport rcvbuf=4m; iot_uplink; }
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
my $col = IoT::Collections->new($t);
my $things = IoT::Things->new($t);
$t->start;
note("soak: nginx in " . $t->dir . ", $MINUTES min, output in $OUT");

sub counters {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp', Timeout => 10) or return {};
    local $/;
    return json_decode(<$s> // '') // {};
}

sub must {
    my ($what, $st, $j, undef, $raw, @ok) = @_;
    die "$what: $st " . ($raw // '') . "\n" unless grep { $st == $_ } @ok;
    return $j;
}

# ------------------------------------------------------------ setup

my $U = must('POST /users', $col->call(POST => '/users',
                                       body => { name => 'soak' }), 201);
my $TOK = $U->{token};
my $TEAM = $U->{privateTeamId};
my $RO = $col->create_token({ resource => '/', write => JFALSE },
                            token => $TOK)->{token};
my $SIGNER = $col->create_token({ resource => '/', write => JTRUE },
                                token => $TOK)->{token};
my %C = map { $_ => $col->create_collection({ tags => { name => $_ } },
                                            token => $TOK)->{collectionId} }
        qw(data collections things iotda);

must('product', IoT::Iotda->new($t, token => $TOK)->call(POST => '/products',
    project => $TEAM, body => {
        product_id => 'soak', name => 'soak', device_type => 'Meter',
        protocol_type => 'UDP', data_format => 'json', app_id => $C{iotda},
        service_capabilities => [{ service_id => 'S', properties => [{
            property_name => 'level', data_type => 'int', min => '0',
            max => '100000000', method => 'RW', default_value => 0 }] }] }),
     201);

# the UDP devices, attached over RADIUS from 127.0.1.x
my @DEV;
for my $i (1 .. $NDEV) {
    my $d = $col->create_device($C{data}, { tags => { name => "udp$i" } },
                                token => $TOK);
    my $addr = "127.0.1.$i";
    my (undef, $out) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Acct-Session-Id = \"soak-$i\", "
        . "Framed-IP-Address = $addr, 3GPP-IMSI = \"$d->{imsi}\"",
        dir => $t->dir);
    die "attach $addr: $out\n" unless $out =~ /Received Accounting-Response/;
    push @DEV, { %$d, addr => $addr };
}

# the SenML device: a generic adapter in the data collection
my $SDEV = must('senml device', $things->call(POST => '/devices',
    body => { name => 'senml', clientId => $TEAM, projectId => $C{data},
              deviceSpecificationId => '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
    token => $TOK), 201);
my $DVN = '5a5a5a5a-1111-4111-8111-000000000001';
my $SSEC = 'SoakSharedSecret' x 2;
must('adapter', $things->call(POST => "/devices/$SDEV->{id}/network-adapters",
    body => { type => 'generic', dvnUuid => $DVN, sharedSecret => $SSEC },
    token => $TOK), 201);

# ------------------------------------------------------------ load

my $stop = 0;
my %child;    # pid -> name

sub ledger_fh {
    my ($name) = @_;
    open my $fh, '>', "$OUT/ledger-$name.jsonl" or die "ledger: $!";
    $fh->autoflush(1);
    return $fh;
}

sub spawn {
    my ($name, $code) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        $SIG{TERM} = sub { $stop = 1 };
        $SIG{INT} = 'DEFAULT';
        srand($$ ^ time);
        my $ok = eval { $code->(); 1 };
        print STDERR "soak $name: $@" unless $ok;
        # never the harness's END (it would stop nginx)
        POSIX::_exit($ok ? 0 : 1);
    }
    $child{$pid} = $name;
}

sub rec {
    my ($fh, %r) = @_;
    $r{t} = sprintf '%.3f', time;
    print $fh json_encode(\%r), "\n";
}

# the statuses that say a write was not done: any answer but 2xx; a
# transport error (599: the worker was killed under the request) leaves
# it unknown
sub outcome { $_[0] =~ /^2/ ? 'ok' : $_[0] == 599 ? 'unknown' : 'no' }

spawn(collections => sub {
    my $fh = ledger_fh('collections');
    my ($n, @live) = (0);
    while (!$stop) {
        $n++;
        my ($st, $j) = $col->call(POST => "/collections/$C{collections}/devices",
            body => { imsi => sprintf('24299%09d', $n),
                      imei => sprintf('35299%09d', $n),
                      tags => { seq => '0' } }, token => $TOK);
        rec($fh, op => 'create', st => $st, r => outcome($st),
            id => $j && $j->{deviceId});
        push @live, $j->{deviceId} if $st == 201;
        if (@live) {
            my $id = $live[rand @live];
            ($st) = $col->call(PATCH => "/collections/$C{collections}/devices/$id",
                               body => { tags => { seq => "$n" } }, token => $TOK);
            rec($fh, op => 'patch', st => $st, r => outcome($st), id => $id,
                seq => $n);
        }
        if ($n % 5 == 0) {
            ($st) = $col->call(PATCH => "/collections/$C{collections}/tags",
                               body => { seq => "$n" }, token => $TOK);
            rec($fh, op => 'ctag', st => $st, r => outcome($st), seq => $n);
        }
        if ($n % 10 == 0 && @live > 5) {
            my $id = shift @live;
            ($st) = $col->call(DELETE => "/collections/$C{collections}/devices/$id",
                               token => $TOK);
            rec($fh, op => 'delete', st => $st, r => outcome($st), id => $id);
        }
        sleep $PACE;
    }
});

sub things_body {
    my ($name) = @_;
    return { name => $name, clientId => $TEAM, projectId => $C{things},
             deviceSpecificationId => '9c359e94-ace1-448c-8ac9-443a7d3d963f' };
}

spawn(things => sub {
    my $fh = ledger_fh('things');
    my ($n, @live) = (0);
    while (!$stop) {
        $n++;
        my ($st, $j) = $things->call(POST => '/devices',
            body => things_body("t$n-0"), token => $TOK);
        rec($fh, op => 'create', st => $st, r => outcome($st),
            id => $j && $j->{id}, name => "t$n-0");
        push @live, [$j->{id}, "t$n"] if $st == 201;
        if (@live) {
            my $d = $live[rand @live];
            ($st) = $things->call(PUT => "/devices/$d->[0]",
                body => things_body("$d->[1]-$n"), token => $TOK);
            rec($fh, op => 'put', st => $st, r => outcome($st), id => $d->[0],
                name => "$d->[1]-$n");
        }
        if ($n % 10 == 0 && @live > 5) {
            my $d = shift @live;
            ($st) = $things->call(DELETE => "/devices/$d->[0]", token => $TOK);
            rec($fh, op => 'delete', st => $st, r => outcome($st), id => $d->[0]);
        }
        sleep $PACE;
    }
});

spawn(iotda => sub {
    my $fh = ledger_fh('iotda');
    my $xat = IoT::Iotda->new($t, project => $TEAM, token => $TOK);
    my ($ak, $sk) = access_key($SIGNER);
    my $sig = IoT::Iotda->new($t, project => $TEAM, ak => $ak, sk => $sk);
    my ($n, @live) = (0);
    while (!$stop) {
        $n++;
        my $api = $n % 2 ? $xat : $sig;
        my ($st, $j) = $api->call(POST => '/devices', body => {
            node_id => "soak_$n", product_id => 'soak', app_id => $C{iotda},
            device_name => "i$n-0" });
        rec($fh, op => 'create', st => $st, r => outcome($st),
            id => $j && $j->{device_id}, name => "i$n-0");
        push @live, [$j->{device_id}, "i$n"] if $st == 201;
        if (@live) {
            my $d = $live[rand @live];
            ($st) = $api->call(PUT => "/devices/$d->[0]",
                               body => { device_name => "$d->[1]-$n" });
            rec($fh, op => 'put', st => $st, r => outcome($st), id => $d->[0],
                name => "$d->[1]-$n");
            ($st) = $api->call(PUT => "/devices/$d->[0]/shadow", body => {
                shadow => [{ service_id => 'S', desired => { level => 0 + $n } }] });
            rec($fh, op => 'shadow', st => $st, r => outcome($st),
                id => $d->[0], seq => $n);
            ($st) = $api->call(POST => "/devices/$d->[0]/messages",
                body => { message => "m$n", message_id => "m$n" });
            rec($fh, op => 'message', st => $st, r => outcome($st),
                id => $d->[0], mid => "m$n");
        }
        if ($n % 10 == 0 && @live > 5) {
            my $d = shift @live;
            ($st) = $api->call(DELETE => "/devices/$d->[0]");
            rec($fh, op => 'delete', st => $st, r => outcome($st), id => $d->[0]);
        }
        sleep $PACE;
    }
});

spawn(reader => sub {
    my $fh = ledger_fh('reader');
    my $iot = IoT::Iotda->new($t, project => $TEAM, token => $RO);
    my %h;
    while (!$stop) {
        for my $r (
            [collections => sub { $col->call(GET => "/collections/$C{collections}/devices?limit=50", token => $RO) }],
            [collections => sub { $col->call(GET => "/collections/$C{data}/data?limit=20", token => $RO) }],
            [collections => sub { $col->call(GET => "/collections/$C{data}/devices/$DEV[rand @DEV]{deviceId}", token => $RO) }],
            [things => sub { $things->call(GET => '/devices?limit=20', token => $RO) }],
            [iotda => sub { $iot->call(GET => '/devices', query => 'limit=20') }],
            [iotda => sub { $iot->call(GET => "/devices/$DEV[rand @DEV]{deviceId}") }],
        ) {
            my ($st) = $r->[1]->();
            $h{"$r->[0] $st"}++;
        }
        sleep $PACE;
    }
    rec($fh, op => 'reads', counts => \%h);
});

spawn(udp => sub {
    my $fh = ledger_fh('udp');
    my @s = map { IO::Socket::INET->new(LocalAddr => $_->{addr},
                                        LocalPort => 0, Proto => 'udp')
                  or die "bind $_->{addr}: $!" } @DEV;
    my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
    my ($sent, $start) = (0, time);
    while (!$stop) {
        my $due = int((time - $start) * $UDP_RATE);
        while ($sent < $due) {
            my $i = $sent % @s;
            send($s[$i], "soak udp $i $sent", 0, $to) and $sent++;
        }
        sleep 0.05;
    }
    rec($fh, op => 'sent', n => $sent);
});

spawn(senml => sub {
    my $fh = ledger_fh('senml');
    my $n = 0;
    while (!$stop) {
        $n++;
        my $body = json_encode([{ bn => "urn:dev:DVNUUID:$DVN:", n => 'seq',
                                  vs => "senml-$n" }]);
        my ($st) = $t->http(POST => '/ingestion/ip/senml/v1',
            headers => { 'Content-Type' => 'application/json',
                         'Things-Message-Token' => sha256_hex($body . $SSEC) },
            body => $body);
        rec($fh, op => 'pack', st => $st, r => outcome($st), seq => $n);
        sleep 0.1;
    }
});

for my $s (['stream-collection', "/collections/$C{data}/from", token => $TOK],
           ['stream-device', "/collections/$C{data}/devices/$DEV[0]{deviceId}"
                             . "/from?api_token=$RO"]) {
    my ($name, $path, @o) = @$s;
    spawn($name => sub {
        my $fh = ledger_fh($name);
        my (%opens, %closes, $frames, $open_s);
        while (!$stop) {
            my $ws = IoT::WebSocket->connect(port => $t->port, path => $path, @o);
            my $st = $ws ? $ws->{status} : 599;
            $opens{$st}++;
            if ($st == 101) {
                my $since = time;
                while (!$stop) {
                    my $f = $ws->recv_frame(1);
                    if (!$f) {
                        next unless $ws->{eof};
                        $closes{eof}++;
                        last;
                    }
                    if ($f->{opcode} == 8) {
                        $closes{$f->{code} // 'empty'}++;
                        $ws->send_close($f->{code});
                        last;
                    }
                    $frames++ if $f->{opcode} == 1;
                }
                $open_s += time - $since;
                $ws->close;
            }
            sleep 0.2 unless $stop;
        }
        rec($fh, op => 'stream', opens => \%opens, closes => \%closes,
            frames => $frames // 0, open_s => sprintf('%.1f', $open_s // 0));
    });
}

# ------------------------------------------------------------ chaos

sub status_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return;
    my %v;
    while (my $l = <$fh>) { $v{$1} = $2 if $l =~ /^(VmRSS|RssAnon):\s+(\d+)/ }
    return \%v;
}

# seconds since the process started
my $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
sub age {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $s = <$fh>;
    open my $u, '<', '/proc/uptime' or return 0;
    my ($up) = split ' ', scalar <$u>;
    $s =~ s/^.*\)\s+//;
    my $start = (split ' ', $s)[19];
    return $up - $start / $HZ;
}

my (@samples, @kills, @reloads);
my $t0 = time;
my $next_sample = $t0;
my $next_reload = $t0 + $RELOAD_S;
# the first kill half a reload period before the kill period (or half
# the run) is over, so that kills never coincide with reloads
my $first_kill = ($KILL_S < $DUR / 2 ? $KILL_S : $DUR / 2) - $RELOAD_S / 2;
$first_kill = $DUR / 2 + 3 if $first_kill < 5;    # a run of a minute or less
my $next_kill = $t0 + $first_kill;
while (time < $t0 + $DUR) {
    my $now = time;
    if ($now >= $next_sample) {
        # a worker's first seconds are its warm-up (SQLite's page caches
        # fill): only workers older than SOAK_WARM_S are sampled
        my %w = map { my $v = age($_) >= $WARM_S && status_kb($_);
                      $v ? ($_ => $v) : () } $t->workers;
        push @samples, { t => $now - $t0, workers => \%w,
                         master => status_kb($t->pid) };
        $next_sample += $SAMPLE_S;
    }
    if ($now >= $next_reload) {
        my $r0 = time;
        $t->reload;
        push @reloads, sprintf('%.1f', time - $r0);
        $next_reload += $RELOAD_S;
    } elsif ($now >= $next_kill) {
        my @w = $t->workers;
        my $pid = $w[rand @w];
        $t->kill_worker($pid);
        push @kills, { pid => $pid, at => sprintf('%.0f', $now - $t0) };
        $next_kill += $KILL_S;
    }
    sleep 0.2;
}

kill 'TERM', keys %child;
my %failed_child;
for my $pid (keys %child) {
    waitpid($pid, 0);
    $failed_child{$child{$pid}} = $? if $?;
}
ok(!%failed_child, 'every load process ended well')
    or diag(explain \%failed_child);

# ------------------------------------------------------------ checks

sub ledger {
    my ($name) = @_;
    open my $fh, '<', "$OUT/ledger-$name.jsonl" or return ();
    return map { json_decode($_) } <$fh>;
}

# the uplink counters once nothing moves any more (they do not survive
# the restart below)
my $cnt = {};
wait_until(sub {
    my $a = counters();
    sleep 1;
    $cnt = counters();
    return json_encode($a) eq json_encode($cnt);
}, 30);
$t->stop;

my $dir = $t->dir;
sub sql {
    my ($file, $q) = @_;
    my $out = `sqlite3 '$dir/var/$file' "$q" 2>&1`;
    chomp $out;
    return $out;
}
my $integrity_store = sql('iot.db', 'PRAGMA integrity_check;');
my $integrity_hist = sql('iot.db-history', 'PRAGMA integrity_check;');
is($integrity_store, 'ok', 'PRAGMA integrity_check of the store');
is($integrity_hist, 'ok', 'PRAGMA integrity_check of the history');
my $rows = sql('iot.db-history', 'SELECT count(*) FROM messages;');

# history: every message taken in is a row or unrecorded
my $log = $t->read_log(0);
my ($gone, %gone_pid) = (0);
while ($log =~ /iot history: (\d+) messages taken in by process (\d+), which is gone/g) {
    $gone += $1;
    $gone_pid{$2} += $1;
}
my %killed = map { $_->{pid} => 1 } @kills;
is($rows + ($cnt->{unrecorded} // 0), $cnt->{received} // -1,
   "history: received ($cnt->{received}) = rows ($rows) + unrecorded "
   . "($cnt->{unrecorded})");
is($cnt->{unrecorded}, $gone, 'unrecorded: all of it lost by killed workers '
   . '(their log lines)');
ok(!grep({ !$killed{$_} } keys %gone_pid), 'only killed workers lost messages');
ok(!grep({ $_ > $WINDOW } values %gone_pid),
   "each killed worker lost at most $WINDOW messages (the documented window)")
    or diag(explain \%gone_pid);
my ($sent) = map { $_->{n} } ledger('udp');

# the restart: what was acknowledged is there
$t->start;
my %tally;
sub acked {
    my ($name, $what, $ok) = @_;
    $tally{"$name $what"}[$ok ? 0 : 1]++;
    return $ok;
}

# per entity: its ledger lines in order; the final state must be the last
# acknowledged write's or that of a later write whose answer never came
sub final_ok {
    my ($lines, $key, $have) = @_;
    my @w = grep { $_->{r} ne 'no' } @$lines;
    my $last_ok;
    for my $i (0 .. $#w) { $last_ok = $i if $w[$i]{r} eq 'ok' }
    return 1 unless defined $last_ok;
    return grep { ($_->{$key} // '') eq ($have // '') } @w[$last_ok .. $#w];
}

{
    my @l = ledger('collections');
    my (%by, %deleted);
    for my $r (@l) {
        next unless $r->{id};
        push @{ $by{$r->{id}} }, $r;
        $deleted{$r->{id}} = $r->{r} if $r->{op} eq 'delete' && $r->{r} ne 'no';
    }
    for my $id (sort keys %by) {
        my ($st, $j) = $col->call(GET => "/collections/$C{collections}/devices/$id");
        if ($deleted{$id}) {
            acked(collections => 'deleted device gone',
                  $st == 404 || $deleted{$id} eq 'unknown');
            next;
        }
        next unless acked(collections => 'created device there', $st == 200);
        my @p = map { { %$_, v => $_->{seq} } } grep { $_->{op} eq 'patch' } @{ $by{$id} };
        acked(collections => 'device tags as last acknowledged',
              final_ok(\@p, 'v', $j->{tags}{seq})) if @p;
    }
    my @ct = map { { %$_, v => $_->{seq} } } grep { $_->{op} eq 'ctag' } @l;
    my (undef, $c) = $col->call(GET => "/collections/$C{collections}");
    acked(collections => 'collection tag as last acknowledged',
          final_ok(\@ct, 'v', $c->{tags}{seq}));
}

{
    my @l = ledger('things');
    my (%by, %deleted);
    for my $r (@l) {
        next unless $r->{id};
        push @{ $by{$r->{id}} }, $r;
        $deleted{$r->{id}} = $r->{r} if $r->{op} eq 'delete' && $r->{r} ne 'no';
    }
    for my $id (sort keys %by) {
        my ($st, $j) = $things->call(GET => "/devices/$id");
        if ($deleted{$id}) {
            acked(things => 'deleted device gone',
                  $st == 404 || $deleted{$id} eq 'unknown');
            next;
        }
        next unless acked(things => 'created device there', $st == 200);
        my @w = grep { $_->{op} eq 'create' || $_->{op} eq 'put' } @{ $by{$id} };
        acked(things => 'device name as last acknowledged',
              final_ok(\@w, 'name', $j->{name}));
    }
}

{
    my @l = ledger('iotda');
    my $api = IoT::Iotda->new($t, project => $TEAM);
    my (%by, %deleted);
    for my $r (@l) {
        next unless $r->{id};
        push @{ $by{$r->{id}} }, $r;
        $deleted{$r->{id}} = $r->{r} if $r->{op} eq 'delete' && $r->{r} ne 'no';
    }
    for my $id (sort keys %by) {
        my ($st, $j) = $api->call(GET => "/devices/$id");
        if ($deleted{$id}) {
            acked(iotda => 'deleted device gone',
                  $st == 404 || $deleted{$id} eq 'unknown');
            next;
        }
        next unless acked(iotda => 'created device there', $st == 200);
        my @w = grep { $_->{op} eq 'create' || $_->{op} eq 'put' } @{ $by{$id} };
        acked(iotda => 'device name as last acknowledged',
              final_ok(\@w, 'name', $j->{device_name}));
        my @s = map { { %$_, v => $_->{seq} } } grep { $_->{op} eq 'shadow' } @{ $by{$id} };
        if (@s) {
            my (undef, $sh) = $api->call(GET => "/devices/$id/shadow");
            my ($svc) = grep { $_->{service_id} eq 'S' } @{ $sh->{shadow} || [] };
            acked(iotda => 'shadow as last acknowledged',
                  final_ok(\@s, 'v', $svc && $svc->{desired}{properties}{level}));
        }
        my %have;
        my (undef, $m) = $api->call(GET => "/devices/$id/messages");
        $have{ $_->{message_id} } = 1 for @{ $m->{messages} || [] };
        for my $r (grep { $_->{op} eq 'message' && $_->{r} eq 'ok' } @{ $by{$id} }) {
            acked(iotda => 'message kept', $have{ $r->{mid} });
        }
    }
}

# SenML packs answered 204 and not in the history
my %senml;
{
    my (undef, $l) = $col->call(GET => "/collections/$C{data}/devices");
    my ($sd) = grep { ($_->{tags}{name} // '') eq 'senml' } @{ $l->{devices} };
    my (undef, $d) = $col->call(GET => "/collections/$C{data}/devices/"
                                       . "$sd->{deviceId}/data?limit=0");
    my %in = map { (decode_base64($_->{payload}) =~ /"senml-(\d+)"/ ? ($1 => 1) : ()) }
             @{ $d->{messages} || [] };
    my @l = ledger('senml');
    $senml{acked} = grep { $_->{r} eq 'ok' } @l;
    $senml{missing} = grep { $_->{r} eq 'ok' && !$in{ $_->{seq} } } @l;
    $senml{sent} = scalar @l;
    ok($senml{missing} <= ($cnt->{unrecorded} // 0),
       "SenML packs answered 204 but not recorded ($senml{missing}) are within "
       . "what the killed workers lost");
}

for my $k (sort keys %tally) {
    my ($good, $bad) = map { $tally{$k}[$_] // 0 } 0, 1;
    is($bad, 0, "acknowledged writes: $k ($good checked)");
}

$t->stop;

# the error log: at [alert] or worse only the killed workers
my @bad = grep {
    /\[(alert|crit|emerg)\]/
        && !(/worker process (\d+) exited on signal 9/ && $killed{$1})
} split /\n/, $t->read_log(0);
ok(!@bad, 'nothing at [alert] or worse but the killed workers')
    or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
my %errors;
for (split /\n/, $t->read_log(0)) {
    next unless /\[(error|warn)\]/;
    (my $m = $_) =~ s/^.*?\] \d+#\d+: (\*\d+ )?//;
    $m =~ s/\d+/N/g;
    $m = substr($m, 0, 140);
    $errors{"[$1] $m"}++;
}

# memory: the first and the last quarter of the samples
sub mean { my $n = @_ or return 0; my $s = 0; $s += $_ for @_; $s / $n }
@samples = grep { %{ $_->{workers} } } @samples;
my $q = int(@samples / 4) || 1;
my @first = @samples[0 .. $q - 1];
my @last = @samples[@samples - $q .. $#samples];
my %mem;
for my $part ([first => \@first], [last => \@last]) {
    my ($name, $s) = @$part;
    $mem{"$name anon"} = mean(map { my $w = $_->{workers};
                                    mean(map { $_->{RssAnon} } values %$w) } @$s);
    $mem{"$name rss"} = mean(map { my $w = $_->{workers};
                                   mean(map { $_->{VmRSS} } values %$w) } @$s);
    $mem{"$name master"} = mean(map { $_->{master}{RssAnon} // 0 } @$s);
}
for my $k ('anon', 'master') {
    my $limit = $mem{"first $k"} * (1 + $RSS_PCT / 100) + $RSS_KB;
    cmp_ok($mem{"last $k"}, '<=', $limit,
           sprintf('memory flat (%s): last quarter %.0f kB, first %.0f kB',
                   $k eq 'anon' ? 'workers, RssAnon' : 'master, RssAnon',
                   $mem{"last $k"}, $mem{"first $k"}));
}

open my $sf, '>', "$OUT/samples.json" or die;
print $sf json_encode(\@samples);
close $sf;

# ------------------------------------------------------------ report

my %reads = %{ (map { $_->{counts} } ledger('reader'))[0] || {} };
my @streams = map { my $n = $_; map { { %$_, name => $n } } ledger($n) }
              qw(stream-collection stream-device);
for my $s (@streams) {
    my @odd = grep { $_ ne '1001' && $_ ne 'eof' } keys %{ $s->{closes} };
    ok(!@odd, "$s->{name}: closed only by reloads (1001) and kills (EOF)")
        or diag(explain $s->{closes});
    ok(($s->{opens}{101} // 0) > 0, "$s->{name}: open");
}
my $ops = sub {
    my ($name) = @_;
    my %o;
    $o{"$_->{op} $_->{st}"}++ for grep { $_->{st} } ledger($name);
    return join ', ', map { "$_: $o{$_}" } sort keys %o;
};
my $passing = Test::More->builder->is_passing;
chomp(my $uname = `uname -srm`);
chomp(my $cpu = `grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'`);
chomp(my $nginx = `$IoT::Test::NGINX -v 2>&1`);
chomp(my $rev = `git -C '$ROOT' rev-parse --short HEAD 2>/dev/null`);
my $mode = $MINUTES < 10 ? " (short mode: SOAK_MINUTES=$MINUTES)" : '';

my $md = <<"EOF";
# Soak test results

Written by `bench/soak.sh` (bench/README.md, "Soak test"); each run
replaces this file.

- **Result: @{[ $passing ? 'PASS' : 'FAIL' ]}**$mode
- Command: `SOAK_MINUTES=$MINUTES bench/soak.sh`
- Date: @{[ POSIX::strftime('%Y-%m-%d %H:%M UTC', gmtime) ]}; commit $rev
- Machine: $uname, @{[ `nproc` =~ s/\s+//r ]} cores ($cpu), shared with
  other work; $nginx, 2 workers
- Load: writers in three dialects (one request after another, ${\ ($PACE * 1000)} ms
  apart), a reader, $UDP_RATE UDP datagrams/s from $NDEV RADIUS-attached
  devices, 10 SenML packs/s, 2 WebSocket streams; `nginx -s reload`
  every $RELOAD_S s (@{[ scalar @reloads ]} reloads, @{[ join ' ', map { "${_}s" } @reloads ]} each),
  `kill -9` of a worker at @{[ join ', ', map { "$_->{at} s" } @kills ]}
  (@{[ scalar @kills ]})

## Writes (ledger: operation and answer)

| dialect | answers |
|---|---|
| collections | @{[ $ops->('collections') ]} |
| things | @{[ $ops->('things') ]} |
| iotda | @{[ $ops->('iotda') ]} |

Checked after a restart (a write answered 2xx must be there; 599 is a
request whose worker was killed under it: either way is right):

| check | ok | missing |
|---|---:|---:|
@{[ join "\n", map { my $k = $_; my ($g, $b) = map { $tally{$k}[$_] // 0 } 0, 1; "| $k | $g | $b |" } sort keys %tally ]}

## Reads

@{[ join ', ', map { "$_: $reads{$_}" } sort keys %reads ]}

## History

| | |
|---|---:|
| UDP datagrams sent | $sent |
| SenML packs sent / answered 204 / 204 but not in the history | $senml{sent} / $senml{acked} / $senml{missing} |
| taken in (`received`) | $cnt->{received} |
| rows in the history | $rows |
| `unrecorded` | $cnt->{unrecorded} |
| lost by killed workers (log lines) | $gone@{[ %gone_pid ? ' (' . join(', ', map { "process $_: $gone_pid{$_}" } sort keys %gone_pid) . ')' : '' ]} |
| sent but not taken in (dropped before nginx read them: the killed workers' socket buffers) | @{[ $sent + $senml{acked} - $cnt->{received} ]} |

The documented window (docs/dataplane.md): a killed worker loses what it
had taken in and not committed, at most two batches of 1024; each
kill's loss is checked against it, and `received = rows + unrecorded`.

## Streams

@{[ join "\n", map { "- $_->{name}: handshakes by status " . json_encode($_->{opens}) . ", closes by code " . json_encode($_->{closes}) . ", $_->{frames} data frames, open $_->{open_s} s of $DUR s" } @streams ]}

## Store

- `PRAGMA integrity_check`: store `$integrity_store`, history `$integrity_hist`

## Memory (kB, mean per worker over the samples every $SAMPLE_S s)

| | first quarter | last quarter |
|---|---:|---:|
| workers VmRSS | @{[ sprintf '%.0f', $mem{'first rss'} ]} | @{[ sprintf '%.0f', $mem{'last rss'} ]} |
| workers RssAnon | @{[ sprintf '%.0f', $mem{'first anon'} ]} | @{[ sprintf '%.0f', $mem{'last anon'} ]} |
| master RssAnon | @{[ sprintf '%.0f', $mem{'first master'} ]} | @{[ sprintf '%.0f', $mem{'last master'} ]} |

Flat: the last quarter at most $RSS_PCT% + @{[ $RSS_KB / 1024 ]} MiB over the first
(RssAnon: VmRSS counts the pages of the shared zone a worker has
touched, which grow with the registry). Workers are sampled once they
are $WARM_S s old (their first seconds fill SQLite's page caches); a
reload every $RELOAD_S s makes new workers, so the comparison is
between workers of the same ages early and late in the run.

## Error log

@{[ scalar @bad ]} lines at [alert] or worse besides the killed workers'
(@{[ scalar(() = $t->read_log(0) =~ /exited on signal 9/g) ]} of those).
[error] and [warn] lines by message (numbers as N):

@{[ join("\n", map { "- $errors{$_} x `$_`" } sort keys %errors) || '(none)' ]}
EOF
open my $rf, '>', $RESULTS or die "$RESULTS: $!";
print $rf $md;
close $rf;
system('cp', $RESULTS, "$OUT/SOAK.md");
note("soak: results in $RESULTS");

done_testing;
