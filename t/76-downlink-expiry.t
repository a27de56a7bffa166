#!/usr/bin/perl
# Waiting downlinks expire (docs/dataplane.md, "Expiry"): a coap-pull or
# coap-push downlink still queued after iot_downlink_ttl becomes
# "expired", is announced so on the live streams, and is no longer handed
# to the device (a GET gets 4.04, the push stub gets nothing); expired
# ones leave room in the device's queue; one whose time ran out while
# nginx was stopped expires after the start; a bad iot_downlink_ttl is
# refused at start.

use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64);
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

my $SECRET = 'dl-expiry';
my $acct = IoT::Test::free_port('udp');
my $ADDR = '127.0.0.32';

# ---- a bad value is refused at start
{
    my $bad = IoT::Test->new(main_conf => 'iot_downlink_ttl soon;');
    my $st = $bad->start_should_fail;
    ok(defined $st && $st != 0, 'iot_downlink_ttl soon: nginx does not start');
    like($bad->stderr_tail . $bad->log_tail(20), qr/iot_downlink_ttl/,
         '... naming the directive');
}

my $t = IoT::Test->new(workers => 2, main_conf => 'iot_downlink_ttl 1s;');
my $coap = IoT::Coap->new($t, queue => 2);
$t->write_config(stream_conf => <<"EOF" . $coap->link_conf);
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
EOF
my $api = IoT::Collections->new($t);
$t->start;

my $cid = $api->create_collection->{collectionId};
my $A = $api->create_device($cid);
my $did = $A->{deviceId};
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"e1\", "
    . "Framed-IP-Address = $ADDR, 3GPP-IMSI = \"$A->{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attaches');

my $ws = IoT::WebSocket->connect(port => $t->port,
                                 path => "/collections/$cid/devices/$did/from",
                                 token => $t->admin_token);
ok($ws->upgraded, 'a device stream');

sub next_msg {
    while (my $f = $ws->recv_frame(15)) {
        next if $f->{payload} =~ /"keepAlive"/;
        return json_decode($f->{payload});
    }
    return undef;
}

sub to {
    my (%b) = @_;
    $b{payload} = encode_base64($b{payload}, '');
    return $api->call(POST => "/collections/$cid/devices/$did/to",
                      body => \%b);
}

sub by_id {
    my ($s, $j) = $api->call(GET => "/collections/$cid/devices/$did/downlinks?limit=0");
    return { map { $_->{id} => $_ } @{ $j->{downlinks} || [] } };
}

sub state_of { (by_id()->{ $_[0] } // {})->{state} // '' }

# ---- coap-pull: queued, expired, announced, not handed out (the sidecar
# is not running yet: nothing can take it)
my @r = to(transport => 'coap-pull', payload => 'late');
is($r[0], 204, 'coap-pull queued');
my $m = next_msg();
is($m && $m->{downlink}{state}, 'queued', '... announced queued');
my $pull = $m->{downlink}{id};
ok(IoT::Test::wait_until(sub { state_of($pull) eq 'expired' }, 20),
   '... expired after its time');
$m = next_msg();
is($m && $m->{downlink}{state}, 'expired', '... announced expired');
is($m && $m->{downlink}{id}, $pull, '... the same downlink');
ok(!exists $m->{downlink}{reason}, '... without a reason');

ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'the sidecar is up');
my $g = $coap->client(from => $ADDR, method => 'get', path => 'dl');
is($g->{code}, '4.04', 'the device\'s GET: 4.04, the expired one is not handed out');
is(state_of($pull), 'expired', '... it stays expired');

# ---- expired ones leave room in the queue (queue=2)
$coap->stop;
is((to(transport => 'coap-pull', payload => "q$_"))[0], 204, "queued $_")
    for 1 .. 2;
is((to(transport => 'coap-pull', payload => 'q3'))[0], 409,
   'the queue is full');
ok(IoT::Test::wait_until(sub {
       3 == grep { $_->{state} eq 'expired' } values %{ by_id() } }, 20),
   'they expire: all three coap-pull ones');
is((to(transport => 'coap-pull', payload => 'q4'))[0], 204,
   '... and there is room again');

# ---- coap-push: the sidecar is down, the push expires, then the sidecar
# starts: the device gets nothing
my $stub = IoT::CoapDevice->new(addr => $ADDR, mode => '2.01');
@r = to(transport => 'coap-push', port => $stub->port, payload => 'stale');
is($r[0], 204, 'coap-push queued with the sidecar down');
my $push;
ok(IoT::Test::wait_until(sub {
       ($push) = grep { $_->{transport} eq 'coap-push' } values %{ by_id() };
       $push && $push->{state} eq 'expired' }, 20),
   '... expired');
ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'the sidecar is back');
# a fresh push goes: once it is delivered, the stale one had its chance
@r = to(transport => 'coap-push', port => $stub->port, payload => 'fresh');
ok($stub->serve(15, sub { grep { $_->{payload} eq 'fresh' } @{ $stub->got } }),
   'a fresh push goes to the device');
is_deeply([ map { $_->{payload} } @{ $stub->got } ], [ 'fresh' ],
          '... the expired one never did');

# ---- time running out while nginx is stopped
$coap->stop;
@r = to(transport => 'coap-pull', payload => 'while stopped');
my ($queued) = grep { $_->{state} eq 'queued' && $_->{transport} eq 'coap-pull' }
               values %{ by_id() };
ok($queued, 'a coap-pull queued');
$ws->close;
$t->stop;
sleep 2;
$t->start;
ok(IoT::Test::wait_until(sub { state_of($queued->{id}) eq 'expired' }, 20),
   'after the restart it is expired');
is(state_of($pull), 'expired', 'the first one is still expired');

$t->check_log('downlink expiry');
done_testing;
