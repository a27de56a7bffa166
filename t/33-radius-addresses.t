#!/usr/bin/perl

# An address belongs to one device at a time (docs/radius.md, "Addresses"):
# an Accounting Start that reports a device's address for another device
# detaches the first one (no allocatedIp, no downlink, its uplinks no
# longer come from there, its next Access-Request gets another address),
# and the pool never hands out an address another device holds, nor its
# network or broadcast address.  Devices of two collections (two tenants)
# on a /30 pool of loopback addresses, so that the test can be the device.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64 decode_base64);
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius;

plan skip_all => 'radclient not installed (freeradius-utils)'
    unless -x $IoT::Radius::RADCLIENT;

my $SECRET = 'one-address';
my $auth = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

# 127.1.0.0/30: 127.1.0.1 and 127.1.0.2 may be handed out
my $t = IoT::Test->new(stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.1 secret=$SECRET
                       pool=127.1.0.0/30;
    server { listen 127.0.0.1:$auth udp reuseport; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

sub rc {
    my ($type, $attrs) = @_;
    my ($st, $out, $cmd) = IoT::Radius::radclient($auth, $type, $SECRET,
                                                  $attrs, dir => $t->dir);
    note("$cmd\n  stdin: $attrs\n$out");
    return $out;
}

sub access {
    my ($imsi) = @_;
    my $out = rc('auth', qq{3GPP-IMSI = "$imsi"});
    return 'reject' if $out =~ /Received Access-Reject/;
    return $out =~ /Received Access-Accept.*Framed-IP-Address = (\S+)/s
           ? $1 : 'no answer';
}

sub acct {
    my ($type, $addr, $imsi, $sid) = @_;
    my $out = rc('acct', qq{Acct-Status-Type = $type,\n}
                         . qq{Framed-IP-Address = $addr,\n}
                         . qq{3GPP-IMSI = "$imsi",\n}
                         . qq{Acct-Session-Id = "$sid"});
    return $out =~ /Received Accounting-Response/;
}

my @C = map { $api->create_collection->{collectionId} } 1 .. 2;
my %dev;
for my $n (1 .. 3) {
    my $cid = $C[$n == 2 ? 1 : 0];
    my $d = $api->create_device($cid);
    $dev{$n} = { id => $d->{deviceId}, imsi => $d->{imsi}, cid => $cid };
}

sub device {
    my ($n) = @_;
    my ($st, $d) = $api->call(GET => "/collections/$dev{$n}{cid}/devices/"
                                     . $dev{$n}{id});
    return $d;
}

sub ip_of { device($_[0])->{network}{allocatedIp} }

sub socket_on {
    my ($addr) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => 0,
                                  Proto => 'udp');
    die "bind $addr: $!" unless $s;
    return $s;
}

sub data {
    my ($cid) = @_;
    my ($st, $j) = $api->call(GET => "/collections/$cid/data?limit=0");
    return [ map { decode_base64($_->{payload}) } @{ $j->{messages} || [] } ];
}

my $to_up = pack_sockaddr_in($up, inet_aton('127.0.0.1'));

# ---- d1 (tenant A) is given an address and reports from it

my $x = access($dev{1}{imsi});
like($x, qr/^127\.1\.0\.[12]$/, "device 1 is given $x, a host of the pool");
ok(acct('Start', $x, $dev{1}{imsi}, 's1'), 'device 1: Start');
is(ip_of(1), $x, 'device 1 shows it');

my $sx = socket_on($x);
$sx->send('from d1', 0, $to_up);
ok(IoT::Test::wait_until(sub { grep { $_ eq 'from d1' } @{ data($C[0]) } },
                         10),
   "an uplink from $x is device 1's, in collection A");

# ---- the gateway reports the same address for d2 (tenant B)

ok(acct('Start', $x, $dev{2}{imsi}, 's2'), "device 2: Start with $x");
is(ip_of(2), $x, "device 2 shows $x");
is(ip_of(1), '', 'device 1 no longer shows an address (detached)');

my ($st, $j) = $api->call(POST => "/collections/$C[0]/devices/$dev{1}{id}/to",
                          body => { port => $sx->sockport,
                                    payload => encode_base64('for d1', '') });
is($st, 409, 'a downlink to device 1 is refused: it has no address')
    or diag(json_encode($j));
ok(!IO::Select->new($sx)->can_read(0.5),
   "nothing for device 1 reached device 2's address");

$sx->send('from d2', 0, $to_up);
ok(IoT::Test::wait_until(sub { grep { $_ eq 'from d2' } @{ data($C[1]) } },
                         10),
   "an uplink from $x is now device 2's, in collection B");
ok(!(grep { $_ eq 'from d2' } @{ data($C[0]) }),
   '... and not in collection A');

($st, $j) = $api->call(POST => "/collections/$C[1]/devices/$dev{2}{id}/to",
                       body => { port => $sx->sockport,
                                 payload => encode_base64('for d2', '') });
is($st, 204, 'a downlink to device 2 goes out');
ok(IO::Select->new($sx)->can_read(10), "... to $x");
$sx->recv(my $buf, 100, 0);
is($buf, 'for d2', '... the payload');

# ---- d1 comes back: never an address another device holds

my $y = access($dev{1}{imsi});
like($y, qr/^127\.1\.0\.[12]$/, "device 1 is given $y, a host of the pool");
isnt($y, $x, "... not $x, which device 2 holds");
is(ip_of(1), $y, "device 1 shows $y");
is(ip_of(2), $x, "device 2 still shows $x");
is(access($dev{1}{imsi}), $y, 'device 1 asks again: the same address');

# ---- the pool is full now: no network, broadcast or held address

is(access($dev{3}{imsi}), 'reject',
   'device 3: Access-Reject, both hosts of the /30 are held');

# the gateway reports the network address for d3; it is still not handed
# out by the pool
ok(acct('Start', '127.1.0.0', $dev{3}{imsi}, 's3'),
   'device 3: Start with the network address 127.1.0.0');
is(ip_of(3), '127.1.0.0', 'device 3 shows what the gateway reported');
is(access($dev{3}{imsi}), 'reject',
   'device 3 asks: Access-Reject, not the network address');
ok(acct('Start', '127.1.0.3', $dev{3}{imsi}, 's3'),
   'device 3: Start with the broadcast address 127.1.0.3');
is(access($dev{3}{imsi}), 'reject',
   'device 3 asks: Access-Reject, not the broadcast address');

# ---- the gateway moves d1's address to d3

ok(acct('Start', $y, $dev{3}{imsi}, 's4'),
   "device 3: Start with $y (device 1's)");
is(ip_of(3), $y, "device 3 shows $y");
is(ip_of(1), '', 'device 1 is detached');
is(access($dev{1}{imsi}), 'reject',
   "device 1 asks: Access-Reject, $x and $y are held");
ok(acct('Stop', $x, $dev{2}{imsi}, 's2'), "device 2: Stop on $x");
is(access($dev{1}{imsi}), 'reject',
   "device 1 asks: still held, device 2 keeps $x after its Stop");

# ---- what is detached stays detached

$t->restart;
is(ip_of(1), '', 'after a restart device 1 has no address');
is(ip_of(2), $x, "device 2 has $x");
is(ip_of(3), $y, "device 3 has $y");

ok(acct('Interim-Update', $y, $dev{1}{imsi}, 's5'),
   "device 1: Interim-Update with $y");
is(ip_of(1), $y, "device 1 shows $y again");
is(ip_of(3), '', 'device 3 is detached');
my $sy = socket_on($y);
$sy->send('from d1 again', 0, $to_up);
ok(IoT::Test::wait_until(sub {
       grep { $_ eq 'from d1 again' } @{ data($C[0]) } }, 10),
   "an uplink from $y is device 1's");
is(access($dev{3}{imsi}), 'reject', 'device 3 asks: nothing free');

# ---- a store from before addresses were kept unique: one holder each

# the last migration of the store keeps one device per address; it runs
# again on a store set back one schema version
sub sql { $t->sql(@_) }

my $d4 = $api->create_device($C[0]);
$dev{4} = { id => $d4->{deviceId}, imsi => $d4->{imsi}, cid => $C[0] };
$t->stop;

my $version = sql('PRAGMA user_version');
my $at2 = sql("SELECT net_at FROM devices WHERE imsi = '$dev{2}{imsi}'");
is(sql("SELECT device_id = (SELECT id FROM devices WHERE imsi ="
       . " '$dev{1}{imsi}') FROM sessions WHERE addr = '$y'"), 1,
   "device 1 has the session on $y");
# device 3 shows device 1's address, as if given to it later; device 4
# shows device 2's (which has no session since its Stop), given later
sql("UPDATE devices SET net_ip = '$y', net_at = 9999999999999"
    . " WHERE imsi = '$dev{3}{imsi}'");
sql("UPDATE devices SET net_ip = '$x', net_at = " . ($at2 + 1)
    . " WHERE imsi = '$dev{4}{imsi}'");
# the address migration is the store's fifth: set back to before it (the
# migrations after it, if any, run again too, so they must be repeatable)
is($version >= 5, 1, 'the store is at schema 5 or later');
sql('PRAGMA user_version = 4');
$t->start;

is(ip_of(1), $y, "device 1 keeps $y: the session is its");
is(ip_of(3), '', 'device 3 loses it');
is(ip_of(4), $x, "device 4 keeps $x: no session, it got it last");
is(ip_of(2), '', 'device 2 loses it');
is(sql('SELECT count(*) FROM devices WHERE net_ip != \'\''
       . ' GROUP BY net_ip HAVING count(*) > 1'), '',
   'no address is shown by two devices in the store');

my ($id1, $id2) = ($dev{1}{id}, $dev{2}{id});
like($t->log_slice(0),
     qr/\[info\][^\n]*address \Q$x\E is now device ${id2}'s: device $id1 no/,
     'the detach is logged at info, with both devices');
$t->check_log('addresses');
$t->finish;
done_testing;
