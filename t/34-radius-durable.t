#!/usr/bin/perl
# RADIUS requests that write (an attach, accounting) are answered once the
# write is durable, and the event loop never waits for the store meanwhile:
# while another process holds the store's write lock, an Accounting Start
# gets no answer yet, the HTTP API answers at once, a retransmission of the
# Start is not handled twice, and the gateway's other requests from the
# same socket wait their turn; once the lock is let go, each request gets
# exactly one reply, in any order.

use strict;
use warnings;
use Test::More;
use IO::Select;
use Socket qw(pack_sockaddr_in inet_aton);
use Time::HiRes qw(time sleep);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Radius qw(packet imsi ip udp_socket parse_reply);

plan skip_all => 'sqlite3 is not installed' unless -x '/usr/bin/sqlite3';

my $S = 'durable-secret';
my $acct = IoT::Test::free_port('udp');
my $sp = IoT::Test::free_port('tcp');

# one worker: every request meets the same writer
my $t = IoT::Test->new(workers => 1, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$S pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$sp; return "\$iot_radius_stats"; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my @dev = map { $api->create_device($cid) } 0 .. 4;

sub start {
    my ($i, $id) = @_;
    return packet(code => 4, id => $id, secret => $S,
                  attrs => [ [ 40, pack('N', 1) ], [ 44, "s$i" ],
                             [ 8, ip('10.64.1.' . ($i + 1)) ],
                             imsi($dev[$i]{imsi}) ]);
}

my $s = udp_socket();
my $to = pack_sockaddr_in($acct, inet_aton('127.0.0.1'));
my $sel = IO::Select->new($s);

sub replies {
    my ($wait) = @_;
    my @r;
    my $until = time + $wait;
    while ((my $left = $until - time) > 0) {
        last unless $sel->can_read($left);
        recv($s, my $buf, 65535, 0);
        push @r, $buf;
    }
    return @r;
}

# the store's write lock, held by another process
my $db = $t->dir . '/var/iot.db';
open(my $lock, '|-', '/usr/bin/sqlite3', $db) or die "sqlite3: $!";
select((select($lock), $| = 1)[0]);
print $lock "BEGIN IMMEDIATE;\n";
sleep 0.5;

my $before = IoT::Radius::stats($sp);
my @pkt = map { start($_, 10 + $_) } 0 .. 4;

send($s, $pkt[0], 0, $to);
my @r = replies(1);
is(scalar @r, 0, 'no answer while the write cannot be made durable');

my $t0 = time;
my ($st) = $api->call(GET => "/collections/$cid/devices/$dev[0]{deviceId}");
is($st, 200, 'the HTTP API answers meanwhile');
ok(time - $t0 < 1, '... at once, not after the store');

send($s, $pkt[0], 0, $to);       # the gateway retransmits
send($s, $_, 0, $to) for @pkt[1 .. 4];
@r = replies(0.5);
is(scalar @r, 0, 'nor for the retransmission or the next requests');

print $lock "COMMIT;\n";
close $lock;

@r = replies(5);
my %got;
for my $reply (@r) {
    my $id = unpack('x C', $reply);
    my $i = $id - 10;
    next if $i < 0 || $i > 4;
    my $p = parse_reply($reply, $pkt[$i], $S);
    $got{$i}++ if $p && $p->{code} == 5 && $p->{auth_ok};
}
is_deeply(\%got, { map { $_ => 1 } 0 .. 4 },
          'once the lock is let go: one Accounting-Response each')
    or diag(scalar(@r) . ' replies');

my $after = IoT::Radius::stats($sp);
is($after->{retransmitted} - $before->{retransmitted}, 1,
   'the retransmission is counted, not handled');

for my $i (0 .. 4) {
    my (undef, $d) = $api->call(GET => "/collections/$cid/devices/$dev[$i]{deviceId}");
    is($d->{network}{allocatedIp}, '10.64.1.' . ($i + 1), "device $i has its address");
}

# a retransmission after the answer gets the same reply from the cache
send($s, $pkt[2], 0, $to);
@r = replies(2);
is(scalar @r, 1, 'a late retransmission is answered');
my $p = parse_reply($r[0], $pkt[2], $S);
ok($p && $p->{code} == 5 && $p->{auth_ok}, '... with the same reply');

$t->check_log('durable RADIUS');

done_testing;
