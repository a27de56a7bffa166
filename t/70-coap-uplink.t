#!/usr/bin/perl
# CoAP uplink through the sidecar (docs/coap.md): coap-client-notls as a
# device, attached by radclient (Accounting Start) so that its source
# address names it; POST and PUT to any path become data messages with
# transport "coap" and coapMetaData, stored and streamed; unknown devices
# get 4.01; a confirmable request is answered 2.01/2.04 once stored; with
# nginx down the device gets 5.03, and nginx keeps serving without the
# sidecar.

use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Coap;
use IoT::WebSocket;
use IoT::Metrics;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $SECRET = 'coap-secret';
my $acct = IoT::Test::free_port('udp');

my $t = IoT::Test->new(workers => 2,
    server_conf => "location = /metrics { iot_metrics; }\n");
my $coap = IoT::Coap->new($t);
$t->write_config(stream_conf => <<"EOF" . $coap->link_conf);
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
EOF
my $api = IoT::Collections->new($t);
$t->start;
ok($coap->start, 'the sidecar is up');

my ($st, $C) = $api->call(POST => '/collections', body => {});
is($st, 201, 'collection');
my $cid = $C->{collectionId};

my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                          body => { imsi => $t->next_imsi,
                                    imei => $t->next_imei });
is($ds, 201, 'device');
my $did = $D->{deviceId};

sub acct {
    my ($type, $addr, $imsi, $sid) = @_;
    my $attrs = "Acct-Status-Type = $type, Acct-Session-Id = \"$sid\"";
    $attrs .= ", Framed-IP-Address = $addr" if $addr;
    $attrs .= ", 3GPP-IMSI = \"$imsi\"" if $imsi;
    my ($exit, $out) = radclient($acct, 'acct', $SECRET, $attrs,
                                 dir => $t->dir);
    return $out =~ /Received Accounting-Response/;
}

sub data {
    my ($s, $j) = $api->call(GET => "/collections/$cid/devices/$did/data");
    return $j ? $j->{messages} : [];
}

# ---- unknown address: 4.01, nothing stored
my $r = $coap->client(from => '127.0.0.3', method => 'post', path => 'm',
                      payload => 'who');
is($r->{code}, '4.01', 'a device of no known address gets 4.01');

ok(acct('Start', '127.0.0.3', $D->{imsi}, 'c1'), 'the device attaches');

# ---- POST: 2.01 once stored, and streamed
my $ws = IoT::WebSocket->connect(port => $t->port,
                                 path => "/collections/$cid/from",
                                 token => $t->admin_token);
is($ws->{status}, 101, 'a live stream of the collection');
$r = $coap->client(from => '127.0.0.3', method => 'post',
                   path => 'meter/1', payload => "temp=21\x00\xff");
is($r->{code}, '2.01', 'confirmable POST answered 2.01');
my $m = data();
is(scalar @$m, 1, '... and it is in the history when answered');
is(decode_base64($m->[0]{payload} // ''), "temp=21\x00\xff", '... its payload');
is($m->[0]{transport}, 'coap', '... transport coap');
is_deeply($m->[0]{coapMetaData}, { method => 'POST', coapPath => 'meter/1' },
          '... method and path');
is($m->[0]{device}{deviceId}, $did, '... the device');
my $f = $ws->recv_frame(5);
my $live = $f ? json_decode($f->{payload}) : {};
is($live->{transport}, 'coap', 'the live stream has it: transport coap');
is_deeply($live->{coapMetaData}, { method => 'POST', coapPath => 'meter/1' },
          '... with method and path');
$ws->close;

# ---- PUT: 2.04; the root path; an empty body
$r = $coap->client(from => '127.0.0.3', method => 'put', path => '',
                   payload => 'root');
is($r->{code}, '2.04', 'PUT to the root answered 2.04');
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'x/y/z');
is($r->{code}, '2.01', 'an empty POST answered 2.01');
$m = data();
is(scalar @$m, 3, 'three messages');
is_deeply([ map { "$_->{coapMetaData}{method} $_->{coapMetaData}{coapPath}" } @$m ],
          [ 'POST x/y/z', 'PUT ', 'POST meter/1' ], '... methods and paths');
is($m->[0]{payload}, '', '... the empty one is empty');

# ---- non-confirmable: stored as well
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'n',
                   payload => 'non', non => 1, timeout => 2);
ok(IoT::Test::wait_until(sub { @{ data() } == 4 }, 5),
   'a non-confirmable POST is stored');

# ---- too large: 4.13, not stored
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'big',
                   payload => 'x' x 2049);
is($r->{code}, '4.13', 'a body over 2048 bytes gets 4.13');
is(scalar @{ data() }, 4, '... and is not stored');

# ---- DELETE is not an uplink (answered 2.02, as the real system does)
$r = $coap->client(from => '127.0.0.3', method => 'delete', path => 'm');
is($r->{code}, '2.02', 'DELETE gets 2.02');
is(scalar @{ data() }, 4, '... and is not stored');

# ---- the metrics (docs/metrics.md): transport coap, and what was dropped
my ($mm) = IoT::Metrics::parse(($t->http(GET => '/metrics'))[2]);
is(IoT::Metrics::value($mm, 'nginx_iot_uplinks_total',
                       { transport => 'coap' }), 4,
   'metrics: four CoAP uplinks');
is(IoT::Metrics::value($mm, 'nginx_iot_uplink_drops_total',
                       { reason => 'unknown' }), 1,
   '... one from an unknown address');

# ---- after a Stop the address is nobody's
ok(acct('Stop', '127.0.0.3', $D->{imsi}, 'c1'), 'the device detaches');
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'm',
                   payload => 'gone');
is($r->{code}, '4.01', 'after Stop: 4.01');
ok(acct('Start', '127.0.0.3', $D->{imsi}, 'c2'), 'the device attaches again');

# ---- nginx down: 5.03 at once; nothing acknowledged is lost
$t->stop;
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'm',
                   payload => 'while down');
is($r->{code}, '5.03', 'with nginx down the device gets 5.03');
$t->start;
$r = $coap->client(from => '127.0.0.3', method => 'post', path => 'm',
                   payload => 'back');
is($r->{code}, '2.01', 'nginx back: 2.01');
$m = data();
is(scalar @$m, 5, 'after the restart: every acknowledged message is there');
is(decode_base64($m->[0]{payload} // ''), 'back', '... the last one last');

# ---- the sidecar down: nginx serves the rest
$coap->stop;
my ($ls) = $api->call(GET => "/collections/$cid");
is($ls, 200, 'without the sidecar nginx serves the API');

$t->check_log('coap uplink');
done_testing;
