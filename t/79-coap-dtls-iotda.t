#!/usr/bin/perl
# CoAP over DTLS-PSK for a device of the iotda dialect (docs/coap.md,
# "Device keys"): the identity is its node_id, the key its auth_info
# secret read as hex (a secret resetSecret makes is 32 hex digits: a key
# of 16 bytes).  Right key: 2.01 and stored as the device's; wrong key,
# a secret that is not hex: no handshake; a reset secret counts from the
# next handshake; a node_id that is an IMEI works too; the key in no log.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Coap;

plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available() && -x $IoT::Coap::CLIENT_DTLS;

my $t = IoT::Test->new(workers => 2, location => $IoT::Iotda::LOCATIONS);
my $coap = IoT::Coap->new($t);
$t->write_config(stream_conf => $coap->link_conf);
my $col = IoT::Collections->new($t);
$t->start;
ok($coap->start, 'the sidecar is up');

my $C = $col->create_collection;
my $cid = $C->{collectionId};
my $api = IoT::Iotda->new($t, project => $C->{teamId});

my ($s, $j) = $api->call(POST => '/products', body => {
    product_id => 'dtls', name => 'DTLS', device_type => 'sensor',
    protocol_type => 'CoAP', data_format => 'json', app_id => $cid,
    service_capabilities => [{ service_id => 's', properties => [
        { property_name => 'v', data_type => 'int', method => 'RW' }] }] });
is($s, 201, 'a CoAP product') or diag(explain $j);

sub hex_of { unpack 'H*', $_[0] }
my $KEY1 = 'iotda-dtls-01';          # 13 bytes: 26 hex digits
my $IMEI = '352656100000791';

($s, $j) = $api->call(POST => '/devices', body => {
    node_id => 'dtls-node-1', product_id => 'dtls', app_id => $cid,
    auth_info => { auth_type => 'SECRET', secret => hex_of($KEY1) } });
is($s, 201, 'a device with a hex secret') or diag(explain $j);
($s, $j) = $api->call(POST => '/devices', body => {
    node_id => $IMEI, product_id => 'dtls', app_id => $cid,
    auth_info => { auth_type => 'SECRET', secret => hex_of($KEY1) } });
is($s, 201, 'one whose node_id is an IMEI') or diag(explain $j);
($s, $j) = $api->call(POST => '/devices', body => {
    node_id => 'dtls-node-plain', product_id => 'dtls', app_id => $cid,
    auth_info => { auth_type => 'SECRET', secret => 'not-hex-secret' } });
is($s, 201, 'one whose secret is not hex') or diag(explain $j);

sub data {
    my (undef, $d) = $col->call(GET => "/collections/$cid/data?limit=0");
    return $d ? $d->{messages} : [];
}

sub dtls {
    my ($identity, $key, $payload) = @_;
    return $coap->client(method => 'post', path => 'up',
                         payload => $payload // 'over dtls',
                         identity => $identity, psk => $key, timeout => 3);
}

my $r = dtls('dtls-node-1', $KEY1, 'first');
is($r->{code}, '2.01', 'the node_id and the secret as hex: 2.01');
$r = dtls($IMEI, $KEY1, 'imei');
is($r->{code}, '2.01', 'a node_id that is an IMEI: 2.01');
$r = dtls('dtls-node-1', 'a-wrong-key-1', 'wrong');
isnt($r->{code}, '2.01', 'a wrong key: no handshake');
$r = dtls('dtls-node-plain', 'not-hex-secret', 'plain');
isnt($r->{code}, '2.01', 'a secret that is not hex is no key');
$r = dtls('no-such-node', $KEY1, 'unknown');
isnt($r->{code}, '2.01', 'an unknown node_id: no handshake');

my @m;
ok(IoT::Test::wait_until(sub { @m = @{ data() }; @m == 2 }, 10),
   'two messages stored') or diag(explain \@m);
my %names = map { ($_->{device}{imei} // '') => 1 } @m;
ok($names{$IMEI}, '... one as the device with the IMEI');
is(scalar(grep { ($_->{transport} // '') eq 'coap' } @m), 2,
   '... both over CoAP');

# a reset secret: the new one from the next handshake
# (a key the client can take on its command line: printable bytes)
my $new = 'rotated-key-2';
($s, $j) = $api->call(POST => '/devices/dtls_dtls-node-1/action',
                      query => 'action_id=resetSecret',
                      body => { secret => hex_of($new) });
is($s, 200, 'resetSecret');
$r = dtls('dtls-node-1', $KEY1, 'old');
isnt($r->{code}, '2.01', 'the old secret no longer works');
$r = dtls('dtls-node-1', $new, 'new');
is($r->{code}, '2.01', 'the new one does');

$coap->stop;
my $logs = $t->read_log . do {
    local $/; open my $fh, '<', $coap->log_file; <$fh> // '' };
for my $k ($KEY1, hex_of($KEY1), $new, hex_of($new)) {
    unlike($logs, qr/\Q$k\E/, 'no key in the logs: ' . substr($k, 0, 6));
}
$t->check_log('coap dtls iotda');
done_testing;
