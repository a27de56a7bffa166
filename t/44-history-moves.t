#!/usr/bin/perl

# A message belongs to the collection it was received in
# (docs/collections.md, "Data"): after a device moves from collection A to
# collection B, A's /data keeps the messages received while it was in A,
# rendered without what B set (B's collectionId, B's tags), and B's
# histories (the collection's and the device's) show only what was
# received while it was in B.  Uplinks are real: radclient attaches the
# device, the test sends UDP datagrams from its address.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(decode_base64);
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient not installed (freeradius-utils)'
    unless -x $IoT::Radius::RADCLIENT;

my $SECRET = 'moves-secret';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

my $t = IoT::Test->new(stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.1 secret=$SECRET
                       pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $A = $api->create_collection({ tags => { tenant => 'a' } })->{collectionId};
my $B = $api->create_collection({ tags => { tenant => 'b' } })->{collectionId};
my $D = $api->create_device($A, { tags => { set => 'by-a' } });
my $did = $D->{deviceId};

my ($exit, $out) = radclient($acct, 'acct', $SECRET,
                             qq{Acct-Status-Type = Start,\n}
                             . qq{Framed-IP-Address = 127.0.0.2,\n}
                             . qq{3GPP-IMSI = "$D->{imsi}",\n}
                             . qq{Acct-Session-Id = "m1"},
                             dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device is attached');

my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0,
                                 Proto => 'udp');
die "bind 127.0.0.2: $!" unless $sock;
my $to_up = pack_sockaddr_in($up, inet_aton('127.0.0.1'));

sub messages {
    my ($path) = @_;
    my ($st, $j) = $api->call(GET => "$path/data?limit=0");
    return $st == 200 ? $j->{messages} : undef;
}

sub payloads {
    my ($msgs) = @_;
    return [ map { decode_base64($_->{payload}) } @{ $msgs || [] } ];
}

sub send_and_wait {
    my ($payload, $path) = @_;
    $sock->send($payload, 0, $to_up);
    return IoT::Test::wait_until(sub {
        grep { $_ eq $payload } @{ payloads(messages($path)) } }, 10);
}

# ---- two messages while in A

ok(send_and_wait('in A 1', "/collections/$A"), 'a message in A');
ok(send_and_wait('in A 2', "/collections/$A"), 'another one');

# ---- the device moves to B, and B sets its tags

my ($st, $p) = $api->call(PATCH => "/collections/$A/devices/$did",
                          body => { collectionId => $B });
is($st, 200, 'the device moves to B');
($st, $p) = $api->call(PATCH => "/collections/$B/devices/$did",
                       body => { tags => { secret => 'of-b' } });
is($st, 200, 'B sets a tag on it');
is_deeply($p->{tags}, { set => 'by-a', secret => 'of-b' },
          '... (the tags A set moved with it)');

ok(send_and_wait('in B 1', "/collections/$B"), 'a message in B');

# ---- A's history

my $msgs = messages("/collections/$A");
is_deeply(payloads($msgs), [ 'in A 2', 'in A 1' ],
          "A's /data: the messages received while the device was in A");
for my $m (@$msgs) {
    my $dev = $m->{device};
    my $what = decode_base64($m->{payload});
    is($dev->{deviceId}, $did, "'$what': the device's id");
    is($dev->{collectionId}, $A, "'$what': collectionId is A's, not B's")
        or diag(json_encode($m));
    ok(!exists $dev->{tags}{secret}, "'$what': none of B's tags")
        or diag(json_encode($m));
    ok(!($dev->{network}{allocatedIp} // ''),
       "'$what': not the device's network as it is in B");
}

# ---- B's histories

$msgs = messages("/collections/$B");
is_deeply(payloads($msgs), [ 'in B 1' ],
          "B's /data: only what came while the device was in B");
is($msgs->[0]{device}{collectionId}, $B, '... rendered in B');

$msgs = messages("/collections/$B/devices/$did");
is_deeply(payloads($msgs), [ 'in B 1' ],
          "B's device /data: not the messages received while it was in A")
    or diag(json_encode($msgs));

my ($s2, $j2) = $api->call(GET => "/collections/$A/devices/$did/data");
is($s2, 404, "A's device /data: the device is not A's any more");

# ---- the device moves back to A

($st, $p) = $api->call(PATCH => "/collections/$B/devices/$did",
                       body => { collectionId => $A });
is($st, 200, 'the device moves back to A');

$msgs = messages("/collections/$A/devices/$did");
is_deeply(payloads($msgs), [ 'in A 2', 'in A 1' ],
          "A's device /data: what came while it was in A, not in B");
is($msgs->[0]{device}{collectionId}, $A, '... rendered in A');

$msgs = messages("/collections/$B");
is_deeply(payloads($msgs), [ 'in B 1' ], "B's /data keeps B's message");
is($msgs->[0]{device}{collectionId}, $B, '... with collectionId B');
is_deeply($msgs->[0]{device}{tags}, {}, '... and none of A\'s tags now')
    or diag(json_encode($msgs->[0]));

ok(send_and_wait('in A 3', "/collections/$A"), 'a message in A again');
is_deeply(payloads(messages("/collections/$B")), [ 'in B 1' ],
          '... not in B');

$t->check_log('moves');
$t->finish;
done_testing;
