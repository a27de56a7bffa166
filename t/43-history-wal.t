#!/usr/bin/perl
# The history's write-ahead log is checkpointed as messages are recorded:
# the rows reach the history's own file and the log stays small (without
# checkpoints the file never grew and the log grew without end).

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'too slow under valgrind' if $ENV{IOT_TEST_VALGRIND};

my $SECRET = 'wal-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $stats = IoT::Test::free_port('tcp');

my $t = IoT::Test->new(workers => 2, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp reuseport rcvbuf=4m; iot_uplink; }
    server { listen 127.0.0.1:$stats; return "\$iot_uplink_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $D = $api->create_device($cid);
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Framed-IP-Address = 127.0.0.30, "
    . "3GPP-IMSI = \"$D->{imsi}\", Acct-Session-Id = \"w1\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'attached');

my $N = 20000;
my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.30', LocalPort => 0,
                              Proto => 'udp') or die $!;
my $to = pack_sockaddr_in($up, inet_aton('127.0.0.1'));
for my $n (1 .. $N) {
    $s->send(sprintf('%064d', $n), 0, $to);
    select(undef, undef, undef, 0.002) if $n % 25 == 0;
}

sub counters {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $stats,
                                  Proto => 'tcp', Timeout => 10) or return {};
    local $/;
    return json_decode(<$c> // '') // {};
}

# the kernel may drop some of a burst: what counts is what was taken in
my ($c, $last) = ({}, -1);
IoT::Test::wait_until(sub {
    $c = counters();
    my $n = $c->{received} // 0;
    my $still = $n == $last;
    $last = $n;
    return $still;
}, 30);
cmp_ok($c->{received}, '>=', $N / 2, 'most messages taken in')
    or diag(json_encode($c));
is($c->{unrecorded}, 0, 'all of them recorded');
sleep 1;

my ($ds, $all) = $api->call(GET => "/collections/$cid/data?limit=0");
is(scalar @{ $all->{messages} || [] }, $c->{received},
   'the history has every one of them');

my $db = -s $t->dir . '/var/iot.db-history';
my $wal = -s $t->dir . '/var/iot.db-history-wal';
cmp_ok($db, '>', 1024 * 1024,
       "the rows were checkpointed into the history's file ($db bytes)");
cmp_ok($wal, '<', 16 * 1024 * 1024, "its log stays small ($wal bytes)");

$t->check_log('history wal');
$t->finish;
done_testing;
