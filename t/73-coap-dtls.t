#!/usr/bin/perl
# CoAP over DTLS with pre-shared keys (docs/coap.md): coap-client-openssl
# as the device.  The identity and key come from what the dialects hold:
# the collections dialect's write-only key (identity: the device id), a
# things generic adapter's sharedSecret (identity: its DVN UUID) and a
# cellular adapter's (identity: the IMEI).  Right key: 2.01 and stored as
# the identity's device; wrong key, unknown identity, a removed key: no
# handshake, nothing stored; a rotated key counts from the next handshake;
# keys never in an answer or a log.

use strict;
use warnings;
use Test::More;
use MIME::Base64 qw(decode_base64);
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;
use IoT::Coap;

plan skip_all => 'no sidecar or coap-client (./build.sh build)'
    unless IoT::Coap::available() && -x $IoT::Coap::CLIENT_DTLS;

my $t = IoT::Test->new(workers => 2, location => $IoT::Things::LOCATIONS);
my $coap = IoT::Coap->new($t);
$t->write_config(stream_conf => $coap->link_conf);
my $col = IoT::Collections->new($t);
my $things = IoT::Things->new($t);
$t->start;
ok($coap->start, 'the sidecar is up');

my $C = $col->create_collection;
my $cid = $C->{collectionId};
$things->{client_id} = $C->{teamId};
my $D = $col->create_device($cid, {});
my $did = $D->{deviceId};

my $KEY1 = 'first-key-of-the-device';
my $KEY2 = 'rotated-key-of-the-device';
sub hex_of { unpack 'H*', $_[0] }

sub data {
    my ($s, $j) = $col->call(GET => "/collections/$cid/data?limit=0");
    return $j ? $j->{messages} : [];
}

sub dtls {
    my ($identity, $key, %o) = @_;
    return $coap->client(method => $o{method} || 'post',
                         path => $o{path} // 'd',
                         payload => $o{payload} // 'dtls',
                         identity => $identity, psk => $key,
                         timeout => $o{timeout} || 3);
}

# ---- the collections dialect's key: write-only
my @r = $col->call(PATCH => "/collections/$cid/devices/$did/psk",
                   body => { key => hex_of($KEY1) });
is($r[0], 204, 'PATCH .../psk sets the key');
@r = $col->call(GET => "/collections/$cid/devices/$did/psk");
is($r[0], 405, 'the key cannot be read (405)');
unlike($r[3] // '', qr/\Q${\ hex_of($KEY1) }\E/, '... and is not in the answer');
for my $bad ('', 'abc', 'zz' x 8, '00' x 3, '00' x 65) {
    @r = $col->call(PATCH => "/collections/$cid/devices/$did/psk",
                    body => { key => $bad });
    is($r[0], 400, "a bad key ('" . substr($bad, 0, 12) . "') is a 400");
}
@r = $col->call(PATCH => "/collections/$cid/devices/$did/psk",
                body => { key => 12345678 });
is($r[0], 400, 'a key that is not a string is a 400');
@r = $col->call(PATCH => "/collections/$cid/devices/zzzzzzzzzzzzz/psk",
                body => { key => hex_of($KEY1) });
is($r[0], 404, 'an unknown device is a 404');
my ($ds, $DJ, undef, $draw) = $col->call(GET => "/collections/$cid/devices/$did");
unlike($draw, qr/\Q${\ hex_of($KEY1) }\E|psk/i, 'the device shows no key');

# ---- right key: 2.01, stored as the device's
my $r = dtls($did, $KEY1, payload => 'over dtls');
is($r->{code}, '2.01', 'DTLS-PSK with the right key: 2.01');
my $m = data();
is(scalar @$m, 1, '... stored');
is($m->[0]{device}{deviceId}, $did, '... as the identity\'s device');
is(decode_base64($m->[0]{payload}), 'over dtls', '... its payload');
is($m->[0]{transport}, 'coap', '... transport coap');

# ---- coap-pull over DTLS: the identity names the device
$r = dtls($did, $KEY1, method => 'get', path => 'dl', payload => undef);
is($r->{code}, '4.04', 'GET over DTLS with nothing queued: 4.04');
@r = $col->call(POST => "/collections/$cid/devices/$did/to",
                body => { transport => 'coap-pull', payload => 'c2VjdXJl' });
is($r[0], 204, 'a coap-pull downlink queued');
$r = dtls($did, $KEY1, method => 'get', path => 'dl', payload => undef);
is($r->{code}, '2.05', '... taken over DTLS: 2.05');
is($r->{body}, 'secure', '... its payload');

# ---- wrong key, unknown identity: no handshake, nothing stored
$r = dtls($did, 'not-the-key-at-all');
isnt($r->{code}, '2.01', 'a wrong key: no answer');
$r = dtls('nobody-at-all', $KEY1);
isnt($r->{code}, '2.01', 'an unknown identity: no answer');
$r = dtls('', $KEY1);
isnt($r->{code}, '2.01', 'an empty identity: no answer');
is(scalar @{ data() }, 1, '... none of them stored');

# ---- rotation: the new key from the next handshake on
@r = $col->call(PATCH => "/collections/$cid/devices/$did/psk",
                body => { key => hex_of($KEY2) });
is($r[0], 204, 'the key rotated');
$r = dtls($did, $KEY1);
isnt($r->{code}, '2.01', 'the old key no longer works');
$r = dtls($did, $KEY2, payload => 'rotated');
is($r->{code}, '2.01', 'the new one does');

# ---- removed: no key, no handshake
@r = $col->call(DELETE => "/collections/$cid/devices/$did/psk");
is($r[0], 204, 'DELETE .../psk removes the key');
$r = dtls($did, $KEY2);
isnt($r->{code}, '2.01', 'without a key: no handshake');

# ---- KPN adapters' shared secrets: DVN UUID and IMEI identities
my $SECRET = 'Kp' . ('0123456789abcdefghij' x 2) . 'NN';
my $DVN = '7c1a2f7c-4d33-4e7a-9a0b-1c2d3e4f5a61';
my $TD = $things->create_device($cid, { name => 'kpn' });
@r = $things->call(POST => "/devices/$TD->{id}/network-adapters",
                   body => { type => 'generic', dvnUuid => $DVN,
                             sharedSecret => $SECRET });
is($r[0], 201, 'a generic adapter with a shared secret');
$r = dtls($DVN, $SECRET, payload => 'kpn generic');
is($r->{code}, '2.01', 'identity DVN UUID, key its shared secret: 2.01');
$r = dtls($DVN, $KEY1);
isnt($r->{code}, '2.01', '... another key: no');

my $IMEI = $t->next_imei;
@r = $things->call(POST => "/devices/$TD->{id}/network-adapters",
                   body => { type => 'cellular', imei => $IMEI,
                             sharedSecret => $SECRET . 'C' });
is($r[0], 201, 'a cellular adapter with a shared secret');
$r = dtls($IMEI, $SECRET . 'C', payload => 'kpn cellular');
is($r->{code}, '2.01', 'identity IMEI, key its shared secret: 2.01');
$m = data();
is(scalar @$m, 4, 'the messages of both identities are stored');
is(scalar(grep { $_->{device}{deviceId} ne $did } @$m), 2,
   '... as the things device\'s');
is(scalar(grep { $_->{device}{imei} eq $IMEI } @$m), 2,
   '... (the device with that IMEI)');

# ---- a deleted device's identity is gone with it
@r = $col->call(PATCH => "/collections/$cid/devices/$did/psk",
                body => { key => hex_of($KEY1) });
@r = $col->call(DELETE => "/collections/$cid/devices/$did");
is($r[0], 204, 'the collections device deleted');
$r = dtls($did, $KEY1);
isnt($r->{code}, '2.01', '... its identity no longer works');

# ---- keys in no log
$coap->stop;
my $logs = $t->read_log . do {
    local $/; open my $fh, '<', $coap->log_file; <$fh> // '' };
for my $k ($KEY1, $KEY2, $SECRET, hex_of($KEY1), hex_of($KEY2)) {
    unlike($logs, qr/\Q$k\E/, 'no key in the logs: ' . substr($k, 0, 6));
}

$t->check_log('coap dtls');
done_testing;
