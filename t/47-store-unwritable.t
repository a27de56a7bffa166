#!/usr/bin/perl
# The store's files become unwritable under a running server (chattr +i,
# as root): no worker dies (SQLite's WAL index is a shared mapping of the
# -shm file, and a write to it once the file is immutable is a SIGBUS),
# writes are refused with 503, uplinks are counted as unrecorded, the log
# says so once; workers started meanwhile (a respawn, a reload) and the running ones
# heal by themselves once the files are writable again.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Metrics;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'chattr needs root' if $> != 0;
plan skip_all => 'chattr is not installed' unless -x '/usr/bin/chattr';

my $SECRET = 'ro-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stats = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(workers => 2,
    server_conf => "location = /metrics { iot_metrics; }\n",
    stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport; iot_uplink; }
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $var = $t->dir . '/var';
my @files = map { "$var/iot.db$_" } '', '-wal', '-shm', '-history',
                                    '-history-wal', '-history-shm';

sub immutable {
    my ($on) = @_;
    my @f = grep { -e } @files;
    system('/usr/bin/chattr', $on ? '+i' : '-i', @f) == 0
        or die "chattr failed";
    # what the workers wrote into the -shm mappings goes to the disk: their
    # next write there faults, and the kernel asks whether it may
    system('sync', @f) if $on;
}

END { immutable(0) if $t && -d $var }

sub counters {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp', Timeout => 10) or return {};
    local $/;
    return json_decode(<$s> // '') // {};
}

# a series of the metrics endpoint (docs/metrics.md)
sub metric {
    my ($name, %l) = @_;
    my ($m) = IoT::Metrics::parse(($t->http(GET => '/metrics'))[2]);
    return $m ? IoT::Metrics::value($m, $name, \%l) : undef;
}

sub uplink {
    my ($payload) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.41', LocalPort => 0,
                                  Proto => 'udp') or die $!;
    $s->send($payload, 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
}

sub stored {
    my ($cid) = @_;
    my ($s, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return { map { decode_base64($_->{payload}) => 1 }
             @{ ($j && $j->{messages}) || [] } };
}

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.41, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"ro1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'attached');

uplink("before $_") for 1 .. 10;
ok(IoT::Test::wait_until(sub { keys %{ stored($cid) } == 10 }, 20),
   'uplinks are recorded');

my @workers = $t->workers;
my $mark = $t->log_mark;

# ---- the files become unwritable
immutable(1);

my %refused;
for my $n (1 .. 20) {
    my ($s) = $api->call(POST => '/collections', body => {});
    $refused{$s}++;
    uplink("during $n");
}
is_deeply(\%refused, { 503 => 20 }, 'every write is refused with 503');

ok(IoT::Test::wait_until(sub { (counters()->{unrecorded} // 0) >= 20 }, 30),
   'the uplinks that could not be recorded are counted');

# the store is not read either (SQLite would write to the -shm file): a
# list from the store is answered 503, what the zone has is answered
is_error([$api->call(GET => "/collections/$cid/data?limit=0")], 503,
         'the history is not read meanwhile');
is_error([$api->call(GET => '/collections')], 503,
         '... nor a list from the registry\'s store');
my ($gs, $G) = $api->call(GET => "/collections/$cid/devices/$D->{deviceId}");
is($gs, 200, 'one device is read from the zone');

is_deeply([ $t->workers ], \@workers, 'no worker died');

for my $f ('registry', 'history') {
    is(metric('nginx_iot_store_failing', file => $f), 1,
       "metrics: the $f is failing");
    cmp_ok(metric('nginx_iot_store_errors_total', file => $f), '>', 0,
           "metrics: its errors are counted");
}

# a worker killed and a reload while the files are unwritable: new workers
# that start without a store they can write
$t->kill_worker(($t->workers)[0]);
$t->reload;
my %refused2;
for (1 .. 5) {
    my ($s) = $api->call(POST => '/collections', body => {});
    $refused2{$s}++;
}
is_deeply(\%refused2, { 503 => 5 }, 'after a reload: still refused');

# ---- writable again: every worker heals by itself
immutable(0);

my $ok;
ok(IoT::Test::wait_until(sub {
    my $r = $t->from_every_worker(sub {
        $api->req(POST => '/collections', body => {});
    });
    my @all = map { @$_ } values %$r;
    return !grep { $_->{status} != 201 } @all;
}, 30), 'writes succeed again in every worker, without a reload');

uplink("after $_") for 1 .. 10;
ok(IoT::Test::wait_until(sub {
    my $got = stored($cid);
    return !grep { !$got->{"after $_"} } 1 .. 10;
}, 30), 'uplinks are recorded again');

for my $f ('registry', 'history') {
    ok(IoT::Test::wait_until(sub {
        (metric('nginx_iot_store_failing', file => $f) // -1) == 0 }, 30),
       "metrics: the $f works again");
}

my $log = $t->log_slice($mark);
unlike($log, qr/exited on signal (?!9\b)/, 'no worker died of a signal but the kill');

my @said = $log =~ /(iot store "[^"]*iot\.db" is not writable)/g;
is(scalar @said, 1, 'the log says once that the store is not writable')
    or diag(join "\n", @said);
my @hist = $log =~ /(iot store "[^"]*iot\.db-history" is not writable)/g;
is(scalar @hist, 1, '... and once for the history');
like($log, qr/iot store "[^"]*iot\.db" is writable again/,
     'and when it is writable again');

my @lines = grep { /iot store/ && /\[(?:error|crit|alert|warn)\]/ }
            split /\n/, $log;
cmp_ok(scalar @lines, '<=', 12, 'the store\'s trouble takes a few lines')
    or diag(join "\n", @lines[0 .. 20]);

$t->check_log('unwritable', allow => [qr/exited on signal 9/]);
$t->finish;
done_testing;
