#!/usr/bin/perl
# Live streams announce downlinks (docs/websocket.md, docs/dataplane.md):
# each change of state of a downlink (udp sent or failed; coap-pull queued
# then delivered; coap-push queued then delivered or failed) reaches the
# collection's streams in both workers and the device's stream as
# {"type":"downlink","downlink":{...}}, the object GET .../downlinks lists
# (with coapPath for the CoAP transports); another device's stream and
# another collection's stream get none of them.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64 decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::WebSocket;
use IoT::Coap;
use IoT::CoapDevice;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $SECRET = 'dl-streams';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $ADDR = '127.0.0.31';

my $t = IoT::Test->new(workers => 2);
my $coap = IoT::Coap->new($t);
$t->write_config(stream_conf => <<"EOF" . $coap->link_conf);
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
my $api = IoT::Collections->new($t);
$t->start;
ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'the sidecar is up');

my $cid = $api->create_collection->{collectionId};
my $A = $api->create_device($cid);
my $B = $api->create_device($cid);
my $cid2 = $api->create_collection->{collectionId};
my $C = $api->create_device($cid2);

my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"a1\", "
    . "Framed-IP-Address = $ADDR, 3GPP-IMSI = \"$A->{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'device A attaches');

sub ws {
    my ($path) = @_;
    return IoT::WebSocket->connect(port => $t->port, path => $path,
                                   token => $t->admin_token);
}

# collection streams until both workers have one
my (@all, %on);
for (1 .. 40) {
    my $ws = ws("/collections/$cid/from");
    next unless $ws && $ws->{status} == 101;
    my $w = $ws->{headers}{'x-worker'} // '?';
    push @all, $ws;
    $on{$w}++;
    last if keys %on >= 2 && @all >= 2;
}
cmp_ok(scalar keys %on, '>=', 2, 'collection streams in both workers');
my $wsA = ws("/collections/$cid/devices/$A->{deviceId}/from");
my $wsB = ws("/collections/$cid/devices/$B->{deviceId}/from");
my $ws2 = ws("/collections/$cid2/from");
ok($wsA->upgraded && $wsB->upgraded && $ws2->upgraded,
   'device streams and another collection\'s stream');

# the next message of a stream that is not a keep-alive, decoded
sub next_msg {
    my ($ws) = @_;
    while (my $f = $ws->recv_frame(10)) {
        next if $f->{payload} =~ /"keepAlive"/;
        return json_decode($f->{payload});
    }
    return undef;
}

sub list {
    my ($did) = @_;
    my ($s, $j) = $api->call(GET => "/collections/$cid/devices/$did/downlinks");
    return $j->{downlinks} || [];
}

sub to {
    my ($did, %b) = @_;
    $b{payload} = encode_base64($b{payload}, '');
    return $api->call(POST => "/collections/$cid/devices/$did/to",
                      body => \%b);
}

# every collection stream and device A's get the same announcement
sub announced {
    my ($what, @streams) = @_;
    my @got = map { next_msg($_) } @streams;
    for my $i (0 .. $#got) {
        is($got[$i] && $got[$i]{type}, 'downlink',
           "$what: stream $i has a downlink message");
    }
    is_deeply($got[$_], $got[0], "$what: stream $_ the same") for 1 .. $#got;
    return $got[0] && $got[0]{downlink};
}

# ---- udp: sent
my $dev = IO::Socket::INET->new(LocalAddr => $ADDR, LocalPort => 0,
                                Proto => 'udp') or die $!;
my @r = to($A->{deviceId}, port => $dev->sockport, payload => "u\x00p");
is($r[0], 204, 'udp downlink to A');
my $d = announced('udp sent', @all, $wsA);
is($d->{state}, 'sent', '... state sent');
is($d->{transport}, 'udp', '... transport udp');
is(decode_base64($d->{payload} // ''), "u\x00p", '... the payload');
is($d->{deviceId}, $A->{deviceId}, '... the device');
ok(!exists $d->{coapPath}, '... no coapPath for udp');
is_deeply($d, list($A->{deviceId})->[0],
          '... the same object as GET .../downlinks');

# ---- udp: failed (B has no address); B's stream gets this one first
@r = to($B->{deviceId}, port => 4000, payload => 'b');
is($r[0], 409, 'udp downlink to B without an address: 409');
$d = announced('udp failed', @all, $wsB);
is($d->{state}, 'failed', '... failed');
like($d->{reason} // '', qr/no known address/, '... with the reason');
is($d->{deviceId}, $B->{deviceId}, '... B\'s: B\'s stream got nothing of A\'s');

# ---- coap-pull: queued, then delivered
@r = to($A->{deviceId}, transport => 'coap-pull', payload => 'pull me');
is($r[0], 204, 'coap-pull to A');
$d = announced('coap-pull queued', @all, $wsA);
is($d->{state}, 'queued', '... queued');
is($d->{transport}, 'coap-pull', '... coap-pull');
is($d->{coapPath}, '', '... coapPath empty for coap-pull');
my $pull_id = $d->{id};
is_deeply($d, list($A->{deviceId})->[0], '... as GET .../downlinks has it');
my $g = $coap->client(from => $ADDR, method => 'get', path => 'dl');
is($g->{code}, '2.05', 'the device takes it');
$d = announced('coap-pull delivered', @all, $wsA);
is($d->{state}, 'delivered', '... delivered');
is($d->{id}, $pull_id, '... the same downlink');
cmp_ok($d->{updated}, '>=', $d->{created}, '... updated since');

# ---- coap-push: queued, then delivered (2.01) or failed (4.04)
my $stub = IoT::CoapDevice->new(addr => $ADDR, mode => '2.01');
@r = to($A->{deviceId}, transport => 'coap-push', port => $stub->port,
        coapPath => '/act/x', payload => 'push me');
is($r[0], 204, 'coap-push to A');
$d = announced('coap-push queued', @all, $wsA);
is($d->{state}, 'queued', '... queued');
is($d->{coapPath}, 'act/x', '... with its coapPath');
my $push_id = $d->{id};
is(list($A->{deviceId})->[0]{coapPath}, 'act/x',
   'GET .../downlinks shows coapPath');
$stub->serve(10, sub { @{ $stub->got } && list($A->{deviceId})->[0]{state}
                                          ne 'queued' });
$d = announced('coap-push delivered', @all, $wsA);
is($d->{state}, 'delivered', '... delivered');
is($d->{id}, $push_id, '... the same downlink');

$stub->mode('4.04');
to($A->{deviceId}, transport => 'coap-push', port => $stub->port,
   payload => 'refuse me');
$d = announced('coap-push queued again', @all, $wsA);
is($d->{state}, 'queued', '... queued');
$stub->serve(10, sub { list($A->{deviceId})->[0]{state} ne 'queued' });
$d = announced('coap-push refused', @all, $wsA);
is($d->{state}, 'failed', '... failed');
like($d->{reason} // '', qr/error code/, '... refused by the device');

# ---- a collection's downlink: each device's announced
@r = $api->call(POST => "/collections/$cid/to",
                body => { port => $dev->sockport,
                          payload => encode_base64('all', '') });
is($r[0], 200, 'a downlink to the collection');
my @two = map { next_msg($all[0]) } 1 .. 2;
is_deeply([ sort map { $_->{downlink}{deviceId} . ':' . $_->{downlink}{state} }
            @two ],
          [ sort("$A->{deviceId}:sent", "$B->{deviceId}:failed") ],
          '... both devices\' downlinks announced on the collection stream');
$d = next_msg($wsB);
is($d && $d->{downlink}{deviceId}, $B->{deviceId},
   '... B\'s stream: B\'s only');
$d = next_msg($wsA);
is($d && $d->{downlink}{deviceId}, $A->{deviceId},
   '... A\'s stream: A\'s only');

# ---- the other collection's stream got none of this: its first is its own
@r = $api->call(POST => "/collections/$cid2/devices/$C->{deviceId}/to",
                body => { port => 4000, payload => encode_base64('c', '') });
$d = next_msg($ws2);
is($d && $d->{downlink}{deviceId}, $C->{deviceId},
   'another collection\'s stream: only its own downlinks');

# ---- data messages are unchanged beside them
$dev->send('up', 0, pack_sockaddr_in($up, inet_aton('127.0.0.1')));
$d = next_msg($wsA);
is($d && $d->{type}, 'data', 'an uplink is still a data message');

$_->close for @all, $wsA, $wsB, $ws2;
$coap->stop;
$t->check_log('downlink streams');
done_testing;
