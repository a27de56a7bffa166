#!/usr/bin/perl
# IoTDA messages to a device of a CoAP product (docs/iotda.md, "Messages
# over CoAP"): with a CoAP link they go through the core's downlink as
# coap-pull (the default of iot_iotda_coap_downlink) or coap-push: PENDING
# while queued, DELIVERED once the device took it (coap-client-notls GET)
# or acknowledged it with 2.01 (the device stub, t/lib/IoT/CoapDevice.pm,
# at iot_iotda_message_port, POSTed to the message's topic), FAILED when
# the device answers 4.04, TIMEOUT when its ttl runs out first (ttl 0: at
# once; then not handed out); the collections dialect sees them as
# coap-pull and coap-push downlinks; a device of another product still
# gets UDP.

use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use IO::Select;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Radius qw(radclient);
use IoT::Coap;
use IoT::CoapDevice;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';
plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available();

my $SECRET = 'iotda-coap';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $ADDR = '127.0.0.33';
my $UADDR = '127.0.0.34';

my $stub = IoT::CoapDevice->new(addr => $ADDR, mode => '2.01');
my $udp = IO::Socket::INET->new(LocalAddr => $UADDR, LocalPort => 0,
                                Proto => 'udp') or die "bind: $!";

sub locations {
    my ($extra) = @_;
    (my $l = $IoT::Iotda::LOCATIONS)
        =~ s{iot_api iotda;}{iot_api iotda;\n    $extra};
    return $l;
}

my $t = IoT::Test->new(workers => 2);
my $coap = IoT::Coap->new($t);
my $stream = <<"EOF" . $coap->link_conf;
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
$t->write_config(stream_conf => $stream,
                 location => locations('iot_iotda_message_port '
                                       . $udp->sockport . ';'));
$t->start;
ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'the sidecar is up');

my $c = IoT::Collections->new($t);
my $space = $c->create_collection({ tags => { name => 'coap-space' } });
my $cid = $space->{collectionId};
# the collections dialect's teamId names the project too
my $api = IoT::Iotda->new($t, project => $space->{teamId});

sub product {
    my ($id, $protocol) = @_;
    my ($s, $p) = $api->call(POST => '/products', body => {
        product_id => $id, name => $id, device_type => 'meter',
        protocol_type => $protocol, data_format => 'json', app_id => $cid,
        service_capabilities => [{ service_id => 's', properties => [
            { property_name => 'v', data_type => 'int', method => 'RW' }] }],
    });
    is($s, 201, "a $protocol product") or diag(explain $p);
}

# a device of the product, attached over RADIUS at the address
sub device {
    my ($node, $product, $addr) = @_;
    my %before = map { $_->{deviceId} => 1 }
                 @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    my ($s, $dev) = $api->call(POST => '/devices', body => {
        node_id => $node, product_id => $product, app_id => $cid });
    is($s, 201, "device $node") or diag(explain $dev);
    my ($did) = grep { !$before{$_} } map { $_->{deviceId} }
                @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    my $imsi = $t->next_imsi;
    $c->call(PATCH => "/collections/$cid/devices/$did",
             body => { imsi => $imsi });
    my (undef, $o) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Acct-Session-Id = \"$node\", "
        . "Framed-IP-Address = $addr, 3GPP-IMSI = \"$imsi\"",
        dir => $t->dir);
    like($o, qr/Received Accounting-Response/, "$node attaches at $addr");
    return ($dev->{device_id}, $did);
}

product('coap-meter', 'CoAP');
product('mqtt-meter', 'MQTT');
my ($DEV, $did) = device('coap-node-1', 'coap-meter', $ADDR);
my ($UDEV) = device('mqtt-node-1', 'mqtt-meter', $UADDR);
my $P = "/devices/$DEV/messages";

sub show {
    my ($id) = @_;
    my ($s, $j) = $api->call(GET => "$P/$id");
    return $j // {};
}

sub transport_of_last {
    my ($s, $j) = $c->call(GET => "/collections/$cid/devices/$did/downlinks?limit=1");
    return $j->{downlinks}[0] // {};
}

# ---- coap-pull: PENDING, the device's GET takes it, DELIVERED
my ($s, $m) = $api->call(POST => $P, body => {
    message_id => 'pull-1', message => 'hello pull', payload_format => 'raw' });
is($s, 201, 'a message to the CoAP device') or diag(explain $m);
is($m->{result}{status}, 'PENDING', '... PENDING: queued for the device');
is($m->{result}{finished_time}, undef, '... not finished');
is(show('pull-1')->{status}, 'PENDING', '... shown PENDING');
my $dl = transport_of_last();
is($dl->{transport}, 'coap-pull', '... a coap-pull downlink in the collections dialect');
is($dl->{state}, 'queued', '... queued');

my $g = $coap->client(from => $ADDR, method => 'get', path => 'msg');
is($g->{code}, '2.05', 'the device\'s CoAP GET: 2.05');
is($g->{body}, 'hello pull', '... the message');
ok(IoT::Test::wait_until(sub { show('pull-1')->{status} eq 'DELIVERED' }, 10),
   '... DELIVERED');
ok(show('pull-1')->{finished_time}, '... with its finished_time');
ok(!show('pull-1')->{error_info}, '... no error_info');

# ---- ttl 0: TIMEOUT, never handed out
($s, $m) = $api->call(POST => $P, body => {
    message_id => 'late-1', message => 'too late', payload_format => 'raw',
    ttl => 0 });
is($s, 201, 'a message with ttl 0');
ok(IoT::Test::wait_until(sub { show('late-1')->{status} eq 'TIMEOUT' }, 15),
   '... TIMEOUT');
is(show('late-1')->{error_info}{error_code}, 'IOTDA.014016',
   '... error_info IOTDA.014016');
is(transport_of_last()->{state}, 'expired', '... expired in the collections dialect');
$g = $coap->client(from => $ADDR, method => 'get', path => 'msg');
is($g->{code}, '4.04', '... the device\'s GET does not get it: 4.04');

# ---- a device of another product still gets UDP
($s, $m) = $api->call(POST => "/devices/$UDEV/messages", body => {
    message_id => 'udp-1', message => 'by udp', payload_format => 'raw' });
is($m->{result}{status}, 'DELIVERED', 'an MQTT product\'s device: sent at once');
my $sel = IO::Select->new($udp);
my $buf = '';
$udp->recv($buf, 4096) if $sel->can_read(5);
is($buf, 'by udp', '... over UDP');

# ---- coap-push: iot_iotda_coap_downlink push; the stub at the port
$t->stop;
$t->write_config(stream_conf => $stream,
                 location => locations('iot_iotda_coap_downlink push;'
                                       . ' iot_iotda_message_port '
                                       . $stub->port . ';'));
$t->start;

($s, $m) = $api->call(POST => $P, body => {
    message_id => 'push-1', message => 'hello push', payload_format => 'raw',
    topic => '/cmd/relay' });
is($s, 201, 'a message pushed to the CoAP device');
is($m->{result}{status}, 'PENDING', '... PENDING until the device answers');
is(transport_of_last()->{transport}, 'coap-push', '... a coap-push downlink');
is(transport_of_last()->{coapPath}, 'cmd/relay',
   '... to its topic (a leading / dropped)');
ok($stub->serve(15, sub { show('push-1')->{status} ne 'PENDING' }),
   'the device answers 2.01');
is(show('push-1')->{status}, 'DELIVERED', '... DELIVERED');
my $got = $stub->got->[-1] // {};
is($got->{path}, 'cmd/relay', '... POSTed to the topic');
is($got->{payload}, 'hello push', '... the message');

$stub->mode('4.04');
($s, $m) = $api->call(POST => $P, body => {
    message_id => 'push-2', message => 'refuse me', payload_format => 'raw' });
ok($stub->serve(15, sub { show('push-2')->{status} ne 'PENDING' }),
   'the device answers 4.04');
is(show('push-2')->{status}, 'FAILED', '... FAILED');
like(show('push-2')->{error_info}{error_msg} // '', qr/error code/,
     '... error_info says the device refused it');

# ---- after a restart: the states stay
$t->stop;
$t->start;
is(show('pull-1')->{status}, 'DELIVERED', 'after a restart: DELIVERED');
is(show('late-1')->{status}, 'TIMEOUT', '... TIMEOUT');
is(show('push-2')->{status}, 'FAILED', '... FAILED');

$coap->stop;
$t->check_log('iotda coap messages');
done_testing;
