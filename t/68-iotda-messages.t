#!/usr/bin/perl

# The iotda dialect's messages (POST, GET /devices/{device_id}/messages,
# GET .../messages/{message_id}): a message is a downlink of the core to
# a device attached over RADIUS, received here by a UDP socket at the
# device's address and iot_iotda_message_port; IoTDA's standard envelope
# and raw payloads (text, base64, JSON); FAILED with IOTDA.014016 for a
# device without an address; every field rule, nothing sent or kept for
# a refused request; list and show with status and times; the same
# downlink in the collections dialect; read-only and other spaces' keys;
# a message sent through the Huawei Cloud SDK core; after a restart.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IO::Socket::INET;
use IO::Select;
use MIME::Base64 qw(encode_base64 decode_base64);
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Radius qw(radclient);

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'iotda-messages';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');

# the device's socket, at the address RADIUS will give it
my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.2', LocalPort => 0,
                                 Proto => 'udp') or die "bind: $!";
my $sel = IO::Select->new($sock);
my $port = $sock->sockport;

(my $locations = $IoT::Iotda::LOCATIONS)
    =~ s{iot_api iotda;}{iot_api iotda;\n    iot_iotda_message_port $port;};

my $t = IoT::Test->new(location => $locations, stream_conf => <<"EOF");
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
my $on = $c->create_device($A->{collectionId});
my $off = $c->create_device($A->{collectionId});
my $inb = $c->create_device($B->{collectionId});

my ($exit, $out) = radclient($acct, 'acct', $SECRET,
    "Acct-Status-Type = Start, Acct-Session-Id = \"m1\", "
    . "Framed-IP-Address = 127.0.0.2, 3GPP-IMSI = \"$on->{imsi}\"",
    dir => $t->dir);
like($out, qr/Received Accounting-Response/, 'the device attached (RADIUS)');

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

my $wa = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::true });
my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });
my $wb = $c->create_token({ resource => "/collections/$B->{collectionId}",
                            write => JSON::XS::true });
my ($ak, $sk) = access_key($wa->{token});
my $signed = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk);
my $read = IoT::Iotda->new($t, project => $project,
                           algorithm => 'V11-HMAC-SHA256',
                           map { $_->[0] => $_->[1] }
                           (['ak', (access_key($ra->{token}))[0]],
                            ['sk', (access_key($ra->{token}))[1]]));
my $other = IoT::Iotda->new($t, project => $project,
                            map { $_->[0] => $_->[1] }
                            (['ak', (access_key($wb->{token}))[0]],
                             ['sk', (access_key($wb->{token}))[1]]));

my $ON = "/devices/$on->{deviceId}/messages";
my $OFF = "/devices/$off->{deviceId}/messages";
my $TIME = qr/^\d{8}T\d{6}Z\z/;

# what the device receives, or undef within a second or two
sub received {
    my ($wait) = @_;
    return undef unless $sel->can_read($wait // 5);
    $sock->recv(my $buf, 4096, 0);
    return $buf;
}

sub count { scalar @{ ($api->call(GET => $_[0]))[1]{messages} || [] } }

# ------------------------------------------------------------ standard

my ($s, $j, $hd) = $api->call(POST => $ON,
    body => { message => 'hello', name => 'greeting' });
is($s, 201, 'a message to an attached device: 201');
like($j->{message_id}, qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/,
     '... message_id: the platform\'s (a UUID)');
is($j->{result}{status}, 'DELIVERED', '... status DELIVERED (sent over UDP)');
like($j->{result}{created_time}, $TIME, '... created_time');
like($j->{result}{finished_time}, $TIME, '... finished_time');
ok(!exists $j->{error_info}, '... no error_info');
like($hd->{'x-request-id'} // '', qr/^[0-9a-f]{32}\z/, '... X-Request-Id');
my $first = $j->{message_id};

my $got = received();
ok(defined $got, 'the device received a datagram');
my $env = eval { JSON::XS::decode_json($got) };
is_deeply($env, { object_device_id => $on->{deviceId}, name => 'greeting',
                  id => $first, content => 'hello' },
          '... IoTDA\'s standard envelope');

($s, $j) = $api->call(POST => $ON,
    body => { message => { temperature => 21, mode => 'eco' },
              message_id => 'msg-json_1', topic => 'down/cmd', ttl => 0 });
is($s, 201, 'a JSON message with its own id, topic and ttl');
is($j->{message_id}, 'msg-json_1', '... the given message_id');
$env = eval { JSON::XS::decode_json(received()) };
is_deeply($env, { object_device_id => $on->{deviceId}, name => undef,
                  id => 'msg-json_1',
                  content => { temperature => 21, mode => 'eco' } },
          '... the envelope holds the object; name null when not given');

# ------------------------------------------------------------ raw

($s, $j) = $api->call(POST => $ON,
    body => { message => 'plain text', payload_format => 'raw',
              message_id => 'raw-1' });
is($s, 201, 'raw text');
is(received(), 'plain text', '... the device gets the text itself');

($s, $j) = $api->call(POST => $ON,
    body => { message => encode_base64("\x00\x01\xffbin", ''),
              payload_format => 'raw', encoding => 'base64',
              message_id => 'raw-2' });
is($s, 201, 'raw base64');
is(received(), "\x00\x01\xffbin", '... the device gets the decoded bytes');

($s, $j) = $api->call(POST => $ON,
    body => { message => { a => [1, 2] }, payload_format => 'raw',
              encoding => 'none', message_id => 'raw-3' });
is($s, 201, 'raw JSON');
is(received(), '{"a":[1,2]}', '... the device gets the compact JSON');

# ------------------------------------------------------------ no address

($s, $j) = $api->call(POST => $OFF,
    body => { message => 'anyone?', message_id => 'lost-1' });
is($s, 201, 'a message to a device without an address: 201 (kept)');
is($j->{result}{status}, 'FAILED', '... status FAILED');
is($j->{error_info}{error_code}, 'IOTDA.014016', '... IOTDA.014016');
like($j->{error_info}{error_msg}, qr/not online/, '... error_msg');
like($j->{result}{finished_time}, $TIME, '... finished');
ok(!defined received(1), '... nothing reached the attached device');

# ------------------------------------------------------------ list, show

($s, $j) = $api->call(GET => $ON);
is($s, 200, 'list');
is($j->{device_id}, $on->{deviceId}, '... device_id');
is_deeply([ map { $_->{message_id} } @{ $j->{messages} } ],
          [ 'raw-3', 'raw-2', 'raw-1', 'msg-json_1', $first ],
          '... every message, newest first');
my %m = map { $_->{message_id} => $_ } @{ $j->{messages} };
is_deeply([ sort keys %{ $m{'msg-json_1'} } ],
          [ sort qw(message_id message encoding payload_format topic ttl
                    status created_time finished_time) ],
          '... the fields of a message');
is_deeply($m{'msg-json_1'}{message}, { temperature => 21, mode => 'eco' },
          '... message as given');
is($m{'msg-json_1'}{topic}, 'down/cmd', '... topic');
is($m{'msg-json_1'}{ttl}, 0, '... ttl');
is($m{'msg-json_1'}{encoding}, 'none', '... encoding default none');
is($m{'msg-json_1'}{payload_format}, 'standard',
   '... payload_format default standard');
is($m{$first}{name}, 'greeting', '... name');
is($m{$first}{ttl}, 1440, '... ttl default 1440');
is($m{'raw-2'}{encoding}, 'base64', '... base64 kept');
is($m{'raw-2'}{payload_format}, 'raw', '... raw kept');
is($m{$first}{status}, 'DELIVERED', '... status');

($s, $j) = $api->call(GET => "$OFF/lost-1");
is($s, 200, 'show');
is($j->{device_id}, $off->{deviceId}, '... device_id');
is($j->{message_id}, 'lost-1', '... message_id');
is($j->{message}, 'anyone?', '... message');
is($j->{status}, 'FAILED', '... FAILED');
is_deeply($j->{error_info}, { error_code => 'IOTDA.014016',
          error_msg => 'the device is not online: it has no address' },
          '... error_info');
is_iotda_error([$api->call(GET => "$OFF/raw-1")], 404, 'IOTDA.014017',
               "another device's message");
is_iotda_error([$api->call(GET => "$ON/nosuch")], 404, 'IOTDA.014017',
               'an unknown message_id');

# one registry: the same downlinks in the collections dialect
my ($cs, $cj) = $c->call(GET => "/collections/$A->{collectionId}/devices/"
                                 . "$on->{deviceId}/downlinks");
is($cs, 200, 'the collections dialect lists the downlinks');
is(scalar @{ $cj->{downlinks} }, 5, '... all five');
is(decode_base64($cj->{downlinks}[1]{payload}), "\x00\x01\xffbin",
   '... with the bytes sent');
is($cj->{downlinks}[0]{port}, $port, '... to iot_iotda_message_port');

# a downlink of the collections dialect is no message of this one
my @to = $c->call(POST => "/collections/$A->{collectionId}/devices/"
                         . "$on->{deviceId}/to",
                  body => { port => $port + 0, payload => 'aGk=' });
is($to[0], 204, 'a downlink through the collections dialect')
    or diag($to[3]);
is(received(), 'hi', '... received');
is(scalar @{ ($api->call(GET => $ON))[1]{messages} }, 5,
   '... not among the messages (it has no message_id)');

# ------------------------------------------------------------ refusals

my $before = count($ON);

my @bad = (
    [ 'no message', {} ],
    [ 'message null', { message => undef } ],
    [ 'message a number', { message => 5 } ],
    [ 'message a boolean', { message => JSON::XS::true } ],
    [ 'message empty', { message => '' } ],
    [ 'message_id with a space', { message => 'x', message_id => 'a b' } ],
    [ 'message_id of 101', { message => 'x', message_id => 'a' x 101 } ],
    [ 'message_id empty', { message => 'x', message_id => '' } ],
    [ 'message_id a number', { message => 'x', message_id => 7 } ],
    [ 'message_id taken', { message => 'x', message_id => 'raw-1' } ],
    [ 'name of 129', { message => 'x', name => 'n' x 129 } ],
    [ 'name with a control character', { message => 'x', name => "a\tb" } ],
    [ 'encoding unknown', { message => 'x', encoding => 'hex' } ],
    [ 'encoding not a string', { message => 'x', encoding => 1 } ],
    [ 'payload_format unknown', { message => 'x', payload_format => 'json' } ],
    [ 'base64 with standard', { message => 'aGk=', encoding => 'base64' } ],
    [ 'base64 of an object', { message => { a => 1 }, encoding => 'base64',
                               payload_format => 'raw' } ],
    [ 'base64 that is not', { message => '!!!!', encoding => 'base64',
                              payload_format => 'raw' } ],
    [ 'ttl -1', { message => 'x', ttl => -1 } ],
    [ 'ttl 1441', { message => 'x', ttl => 1441 } ],
    [ 'ttl a string', { message => 'x', ttl => '10' } ],
    [ 'ttl a fraction', { message => 'x', ttl => 1.5 } ],
    [ 'topic of 129', { message => 'x', topic => 't' x 129 } ],
    [ 'topic with #', { message => 'x', topic => 'a/#' } ],
    [ 'topic_full_name with +', { message => 'x', topic_full_name => 'a/+/b' } ],
    [ 'topic and topic_full_name', { message => 'x', topic => 'a',
                                     topic_full_name => 'b' } ],
    [ 'a payload over 2048 bytes', { message => 'x' x 2049,
                                     payload_format => 'raw' } ],
    [ 'an envelope over 2048 bytes', { message => 'x' x 2000 } ],
);

for my $b (@bad) {
    is_iotda_error([$api->call(POST => $ON, body => $b->[1])], 400,
                   'IOTDA.000006', $b->[0]);
}

is_iotda_error([$api->call(POST => $ON, body => '{"message":')], 400,
               'IOTDA.000008', 'a body that is not JSON');
is_iotda_error([$api->call(POST => $ON, body => '["x"]')], 400,
               'IOTDA.000008', 'a body that is not an object');
ok(!defined received(1), 'nothing refused reached the device');
is(count($ON), $before, '... nor was kept');

($s) = $api->call(POST => $ON, body => { message => 'x' x 1900,
                                         payload_format => 'raw',
                                         message_id => 'big' });
is($s, 201, 'a payload of 1900 bytes goes');
is(length(received() // ''), 1900, '... whole');

# ------------------------------------------------------------ who may

is_iotda_error([$api->call(POST => '/devices/nosuchdevice/messages',
                           body => { message => 'x' })],
               404, 'IOTDA.014000', 'an unknown device');
is_iotda_error([$api->call(GET => '/devices/nosuchdevice/messages')],
               404, 'IOTDA.014000', 'the messages of an unknown device');
is_iotda_error([$read->call(POST => $ON, body => { message => 'x' })],
               403, 'IOTDA.000022', 'a read-only key cannot send');
($s, $j) = $read->call(GET => $ON);
is($s, 200, '... but lists');
($s) = $read->call(GET => "$ON/raw-1");
is($s, 200, '... and shows');
is_iotda_error([$other->call(POST => $ON, body => { message => 'x' })],
               404, 'IOTDA.014000', "another space's key cannot send");
is_iotda_error([$other->call(GET => $ON)], 404, 'IOTDA.014000',
               "... nor list");
is_iotda_error([$other->call(GET => "$ON/raw-1")], 404, 'IOTDA.014000',
               '... nor show');
is_iotda_error([$api->call(POST => $ON, body => { message => 'x' },
                           project => '0' x 32)],
               403, 'IOTDA.000022', 'another project');
is_iotda_error([$api->call(DELETE => $ON)], 405, 'IOTDA.000005',
               'DELETE messages');
is_iotda_error([$api->call(PUT => "$ON/raw-1", body => {})], 405,
               'IOTDA.000005', 'PUT a message');
ok(!defined received(1), 'nothing refused reached the device');

($s, $j) = $signed->call(POST => $ON, body => { message => 'signed',
                                                payload_format => 'raw',
                                                message_id => 'signed-1' });
is($s, 201, 'a signed message');
is(received(), 'signed', '... received');
($s) = $api->call(GET => "/devices/$inb->{deviceId}/messages");
is($s, 200, "B's device: the admin token lists its messages");

# ------------------------------------------------------------ the SDK

SKIP: {
    my $run = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 5
        unless $run;

    my $sdk = sub { $run->($ak, $sk, @_) };

    my $r = $sdk->('POST', "/v5/iot/{project_id}$ON", '{}',
                   '{"message_id":"sdk-1","message":{"k":"v"},'
                   . '"payload_format":"raw"}');
    is($r->{status}, 201, 'SDK core: CreateMessage') or diag(explain $r);
    is($r->{body}{message_id}, 'sdk-1', 'SDK core: message_id');
    is(received(), '{"k":"v"}', 'SDK core: the device received it');
    $r = $sdk->('GET', "/v5/iot/{project_id}$ON/sdk-1");
    is($r->{body}{status}, 'DELIVERED', 'SDK core: ShowDeviceMessage');
    $r = $sdk->('POST', "/v5/iot/{project_id}$ON", '{}', '{"ttl":5}');
    is($r->{error_code}, 'IOTDA.000006', 'SDK core: a refusal');
}

# ------------------------------------------------------------ iotda ids

# a device made in this dialect is found by its IoTDA device_id here too;
# given an IMSI in the collections dialect, it attaches over RADIUS at
# the address of the one above (which loses it) and receives a message
{
    my ($s2, $p) = $api->call(POST => '/products', body => {
        product_id => 'msg-product', name => 'P', device_type => 'x',
        protocol_type => 'CoAP', data_format => 'json',
        app_id => $A->{collectionId},
        service_capabilities => [{ service_id => 's', properties => [
            { property_name => 'v', data_type => 'int', method => 'RW' }] }],
    });
    is($s2, 201, 'a product') or diag(explain $p);
    my $cid = $A->{collectionId};
    my %before = map { $_->{deviceId} => 1 }
                 @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    my ($s3, $dev) = $api->call(POST => '/devices', body => {
        node_id => 'msg-node-1', product_id => 'msg-product',
        app_id => $cid });
    is($s3, 201, 'a device made in the iotda dialect') or diag(explain $dev);
    is($dev->{device_id}, 'msg-product_msg-node-1', '... product_node id');
    my ($did) = grep { !$before{$_} } map { $_->{deviceId} }
                @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    my $imsi = $t->next_imsi;
    my ($s4, $mine) = $c->call(PATCH => "/collections/$cid/devices/$did",
                               body => { imsi => $imsi });
    is($s4, 200, 'its IMSI set in the collections dialect')
        or diag(explain $mine);
    my (undef, $o2) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Acct-Session-Id = \"m9\", "
        . "Framed-IP-Address = 127.0.0.2, 3GPP-IMSI = \"$imsi\"",
        dir => $t->dir);
    like($o2, qr/Received Accounting-Response/, 'it attaches (RADIUS)');
    my $P = "/devices/$dev->{device_id}/messages";
    my ($s5, $m) = $api->call(POST => $P, body => {
        message_id => 'by-iotda-id', message => 'hello',
        payload_format => 'raw' });
    is($s5, 201, 'a message to its IoTDA device_id') or diag(explain $m);
    is(received(), 'hello', '... received at its address');
    my ($s6, $one) = $api->call(GET => "$P/by-iotda-id");
    is($one->{status}, 'DELIVERED', '... shown by its device_id');

    # named by its registry id, it is still its device_id that the
    # device and the answers see
    my $R = "/devices/$did/messages";
    my ($s7) = $api->call(POST => $R, body => {
        message_id => 'by-registry-id', message => 'hi', name => 'n' });
    is($s7, 201, 'a message to its id of the collections dialect');
    my $e = eval { JSON::XS::decode_json(received() // '') };
    is($e->{object_device_id}, $dev->{device_id},
       '... the envelope names it by its device_id');
    my (undef, $l) = $api->call(GET => $R);
    is($l->{device_id}, $dev->{device_id}, '... so does the list');
    (undef, $one) = $api->call(GET => "$R/by-registry-id");
    is($one->{device_id}, $dev->{device_id}, '... and the message shown');
    is_iotda_error([$api->call(POST => '/devices/no-such-device/messages',
                               body => { message => 'x' })],
                   404, 'IOTDA.014000', 'a device_id of no device: 404');
}

# ------------------------------------------------------------ restart

my $n = count($ON);
$t->restart;
is(count($ON), $n, 'after a restart: every message');
($s, $j) = $api->call(GET => "$OFF/lost-1");
is($j->{status}, 'FAILED', '... with its status');
is($j->{error_info}{error_code}, 'IOTDA.014016', '... and error_info');
is_iotda_error([$api->call(POST => $ON, body => { message => 'again',
                                                  message_id => 'raw-1' })],
               400, 'IOTDA.000006', '... a message_id stays taken');

$t->finish;
done_testing;
