#!/usr/bin/perl
# coap-push downlink (docs/coap.md): POST .../to with transport coap-push
# is queued (204), the sidecar takes it and sends a confirmable POST to the
# device's address, the given port and coapPath (a CoAP device stub,
# t/lib/IoT/CoapDevice.pm, answers as told): 2.01 or 2.03 is delivered;
# 4.04 or a reset is failed ("refused"), silence after the retransmissions
# failed ("no answer"); a push queued while the sidecar is down goes once
# it is back; a device without an address is 409.

use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(encode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::Radius qw(radclient);
use IoT::Coap;
use IoT::CoapDevice;
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
# short retransmissions, so that a silent device fails within seconds
my @fast = (args => [ '-T', 1, '-R', 1 ]);
ok($coap->start(@fast), 'the sidecar is up');

my ($st, $C) = $api->call(POST => '/collections', body => {});
my $cid = $C->{collectionId};
my @dev;
for (0 .. 1) {
    my ($ds, $D) = $api->call(POST => "/collections/$cid/devices",
                              body => { imsi => $t->next_imsi,
                                        imei => $t->next_imei });
    push @dev, $D;
}
my $did = $dev[0]{deviceId};
my (undef, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"u1\", "
    . "Framed-IP-Address = 127.0.0.6, 3GPP-IMSI = \"$dev[0]{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attaches at 127.0.0.6');

my $stub = IoT::CoapDevice->new(addr => '127.0.0.6', mode => '2.01');

sub push_to {
    my (%b) = @_;
    return $api->call(POST => "/collections/$cid/devices/" . ($b{dev} // $did)
                              . '/to',
                      body => { transport => 'coap-push', port => $stub->port,
                                payload => encode_base64($b{payload}, ''),
                                (exists $b{path} ? (coapPath => $b{path}) : ()) });
}

sub last_dl {
    my ($s, $j) = $api->call(GET => "/collections/$cid/devices/$did/downlinks?limit=1");
    return $j->{downlinks}[0] // {};
}

sub settled { my $d = last_dl(); $d->{state} && $d->{state} ne 'queued' }

# ---- 2.01: delivered, with method, path, content format and payload
my @r = push_to(payload => "cmd\x00on", path => '/act/relay');
is($r[0], 204, 'coap-push answered 204');
ok($stub->serve(10, \&settled), 'the device stub got it and it settled');
my $m = $stub->got->[0] // {};
is($m->{type}, 0, '... a confirmable request');
is($m->{code}, 2, '... POST');
is($m->{path}, 'act/relay', '... to coapPath');
is($m->{payload}, "cmd\x00on", '... with the payload');
is($m->{format}, 42, '... as application/octet-stream');
my $dl = last_dl();
is($dl->{state}, 'delivered', '2.01: delivered');
is($dl->{transport}, 'coap-push', '... transport coap-push');
ok(!exists $dl->{reason}, '... no reason');

# ---- 2.03: delivered too
$stub->mode('2.03');
push_to(payload => 'again', path => 'x');
ok($stub->serve(10, \&settled), '2.03 answered');
is(last_dl()->{state}, 'delivered', '2.03: delivered');

# ---- 4.04: failed, refused
$stub->mode('4.04');
push_to(payload => 'nope');
ok($stub->serve(10, \&settled), '4.04 answered');
$dl = last_dl();
is($dl->{state}, 'failed', '4.04: failed');
like($dl->{reason} // '', qr/error code/, '... the device refused it');

# ---- a reset: failed, refused
$stub->mode('reset');
push_to(payload => 'rst');
ok($stub->serve(10, \&settled), 'reset');
is(last_dl()->{state}, 'failed', 'a reset: failed');

# ---- silence: retransmitted, then failed, no answer
$stub->mode('silent');
my $n = @{ $stub->got };
push_to(payload => 'hello?');
ok($stub->serve(30, \&settled), 'a silent device: settled after the retransmissions');
$dl = last_dl();
is($dl->{state}, 'failed', '... failed');
like($dl->{reason} // '', qr/did not answer/, '... no answer');
cmp_ok(scalar(@{ $stub->got }) - $n, '>=', 2, '... it was sent again (retransmitted)');

# ---- the sidecar down: the push waits, and goes once it is back
$stub->mode('2.01');
$coap->stop;
@r = push_to(payload => 'waited', path => 'w');
is($r[0], 204, 'with the sidecar down: 204');
$stub->serve(1);
is(last_dl()->{state}, 'queued', '... and queued');
ok($coap->start(@fast), 'the sidecar is back');
ok($stub->serve(10, \&settled), '... the push goes');
is(last_dl()->{state}, 'delivered', '... delivered');
is($stub->got->[-1]{payload}, 'waited', '... the one that waited');

# the downlinks of a transport by state, from the metrics (docs/metrics.md)
sub metric_states {
    my ($transport) = @_;
    my ($m) = IoT::Metrics::parse(($t->http(GET => '/metrics'))[2]);
    return { map { $_->{labels}{state} => $_->{value} }
             grep { $_->{labels}{transport} eq $transport }
             IoT::Metrics::samples($m // {}, 'nginx_iot_downlinks_total') };
}

my $ms = metric_states('coap-push');
note(explain($ms));
is($ms->{delivered}, 3, 'metrics: three coap-push delivered');
is($ms->{failed}, 3, '... three failed');
is($ms->{queued}, 6, '... each queued first');
is($ms->{sent} + $ms->{expired}, 0, '... none sent or expired');

# ---- a device without an address: 409
@r = push_to(payload => 'x', dev => $dev[1]{deviceId});
is($r[0], 409, 'a device without an address: 409');

# ---- coapPath only for coap-push
@r = $api->call(POST => "/collections/$cid/devices/$did/to",
                body => { transport => 'udp', port => 5, payload => 'aGk=',
                          coapPath => 'x' });
is($r[0], 400, 'coapPath with udp: 400');
@r = $api->call(POST => "/collections/$cid/devices/$did/to",
                body => { transport => 'coap-push', payload => 'aGk=',
                          coapPath => 'x' x 256 });
is($r[0], 400, 'a coapPath too long: 400');

$coap->stop;
$t->check_log('coap push');
done_testing;
