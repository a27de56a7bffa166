#!/usr/bin/perl

# The iotda dialect's device commands (POST /devices/{device_id}/commands,
# IoTDA's CreateCommand; docs/iotda.md, "Commands"): service_id,
# command_name and paras checked against the product model (every field
# rule, every data type of a parameter, required and unknown parameters,
# a command without a paras list), each refusal 400 IOTDA.000006 naming
# the field with nothing sent or kept; a command received by a UDP socket
# at the device's address with IoTDA's exact payload; 403 IOTDA.014016
# for a device without an address, its command_id kept; the command_id
# kept beside its downlink in the store, apart from the messages; a device
# without a product; read-only, another space's and another project's
# credentials; a signed request and the Huawei Cloud SDK core; a command
# to a CoAP product's device over coap-pull and coap-push; the product
# rules for a command's definitions (create and update); after a restart.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IO::Socket::INET;
use IO::Select;
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;
use IoT::Radius qw(radclient);
use IoT::Coap;
use IoT::CoapDevice;

plan skip_all => 'radclient is not installed' unless -x '/usr/bin/radclient';

my $SECRET = 'iotda-commands';
my $acct = IoT::Test::free_port('udp');
my $up = IoT::Test::free_port('udp');
my $ADDR = '127.0.0.86';       # the device of the MQTT product
my $PADDR = '127.0.0.87';      # the device without a product
my $CADDR = '127.0.0.88';      # the device of the CoAP product

# the devices' sockets, at the addresses RADIUS will give them
my $sock = IO::Socket::INET->new(LocalAddr => $ADDR, LocalPort => 0,
                                 Proto => 'udp') or die "bind: $!";
my $port = $sock->sockport;
my $psock = IO::Socket::INET->new(LocalAddr => $PADDR, LocalPort => $port,
                                  Proto => 'udp') or die "bind: $!";

my $t = IoT::Test->new;
my $coap = IoT::Coap::available() ? IoT::Coap->new($t) : undef;
sub locations {
    my ($extra) = @_;
    (my $l = $IoT::Iotda::LOCATIONS)
        =~ s{iot_api iotda;}{iot_api iotda;\n    $extra};
    return $l;
}
my $stream = <<"EOF" . ($coap ? $coap->link_conf : '');
    iot_radius_gateway name=pgw1 from=127.0.0.0/8 secret=$SECRET pool=10.64.0.0/16;
    server { listen 127.0.0.1:$acct udp; iot_radius; }
    server { listen 127.0.0.1:$up udp; iot_uplink; }
EOF
$t->write_config(location => locations("iot_iotda_message_port $port;"),
                 stream_conf => $stream);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
my $cid = $A->{collectionId};
my $api = IoT::Iotda->new($t, project => $A->{teamId});
(my $project = $A->{teamId}) =~ s/-//g;

my $wa = $c->create_token({ resource => "/collections/$cid",
                            write => JSON::XS::true });
my $ra = $c->create_token({ resource => "/collections/$cid",
                            write => JSON::XS::false });
my $wb = $c->create_token({ resource => "/collections/$B->{collectionId}",
                            write => JSON::XS::true });
my ($ak, $sk) = access_key($wa->{token});
my $signed = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk,
                             algorithm => 'V11-HMAC-SHA256');
my $read = IoT::Iotda->new($t, project => $project,
                           map { $_->[0] => $_->[1] }
                           (['ak', (access_key($ra->{token}))[0]],
                            ['sk', (access_key($ra->{token}))[1]]));
my $other = IoT::Iotda->new($t, project => $project,
                            map { $_->[0] => $_->[1] }
                            (['ak', (access_key($wb->{token}))[0]],
                             ['sk', (access_key($wb->{token}))[1]]));

# ------------------------------------------------------------ the model

my @SET_PARAS = (
    { para_name => 'level', data_type => 'int', min => '0', max => '10',
      required => JSON::XS::true },
    { para_name => 'mode', data_type => 'enum', enum_list => ['eco', 'full'] },
    { para_name => 'label', data_type => 'string', max_length => 4 },
    { para_name => 'ratio', data_type => 'decimal', min => '-1.5',
      max => '1.5' },
    { para_name => 'on', data_type => 'boolean' },
    { para_name => 'cfg', data_type => 'jsonObject' },
    { para_name => 'tags', data_type => 'string list' },
    { para_name => 'when', data_type => 'DateTime' },
    { para_name => 'big', data_type => 'long', unit => 'B', step => 1,
      description => 'a count', required => JSON::XS::false },
);

sub product {
    my ($id, $protocol) = @_;
    my ($s, $p) = $api->call(POST => '/products', body => {
        product_id => $id, name => $id, device_type => 'meter',
        protocol_type => $protocol, data_format => 'json', app_id => $cid,
        service_capabilities => [
            { service_id => 'Meter',
              properties => [{ property_name => 'v', data_type => 'int' }],
              commands => [
                  { command_name => 'set', paras => \@SET_PARAS,
                    responses => [{ response_name => 'ok' }] },
                  { command_name => 'free' },
                  { command_name => 'none', paras => [] },
                  { command_name => 'reboot' },
              ] },
            { service_id => 'Valve',
              commands => [
                  { command_name => 'reboot' },
                  { command_name => 'open', paras => [
                      { para_name => 'pct', data_type => 'int', min => '0',
                        max => '100' }] },
              ] },
        ],
    });
    is($s, 201, "a $protocol product with commands") or diag(explain $p);
    return $p;
}

# a device of the product made here, attached over RADIUS at $addr
sub device {
    my ($node, $product, $addr) = @_;
    my %before = map { $_->{deviceId} => 1 }
                 @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    my ($s, $dev) = $api->call(POST => '/devices', body => {
        node_id => $node, product_id => $product, app_id => $cid });
    is($s, 201, "device $node") or diag(explain $dev);
    my ($did) = grep { !$before{$_} } map { $_->{deviceId} }
                @{ ($c->call(GET => "/collections/$cid/devices"))[1]{devices} };
    attach($did, $addr, $node) if $addr;
    return ($dev->{device_id}, $did);
}

sub attach {
    my ($did, $addr, $session) = @_;
    my $imsi = $t->next_imsi;
    my ($s) = $c->call(PATCH => "/collections/$cid/devices/$did",
                       body => { imsi => $imsi });
    is($s, 200, "$session: its IMSI");
    my (undef, $o) = radclient($acct, 'acct', $SECRET,
        "Acct-Status-Type = Start, Acct-Session-Id = \"$session\", "
        . "Framed-IP-Address = $addr, 3GPP-IMSI = \"$imsi\"",
        dir => $t->dir);
    like($o, qr/Received Accounting-Response/, "$session attaches at $addr");
}

product('cmd-meter', 'MQTT');
my ($DEV, $did) = device('cmd-node-1', 'cmd-meter', $ADDR);
my ($OFF, $offdid) = device('cmd-node-2', 'cmd-meter', undef);
my $plain = $c->create_device($cid);
attach($plain->{deviceId}, $PADDR, 'plain-1');
my $inb = $c->create_device($B->{collectionId});

my $P = "/devices/$DEV/commands";
my $UUID = qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;

# what a socket receives, or undef within a few seconds
sub received {
    my ($wait, $s) = @_;
    $s //= $sock;
    return undef unless IO::Select->new($s)->can_read($wait // 5);
    $s->recv(my $buf, 4096, 0);
    return $buf;
}

my $db = $t->prefix . '/var/iot.db';
sub sql { my $q = shift; my $o = `sqlite3 '$db' "$q"`; chomp $o; $o }

sub messages {
    my (undef, $j) = $api->call(GET => "/devices/$_[0]/messages");
    return scalar @{ $j->{messages} || [] };
}

# ------------------------------------------------------------ a command

my ($s, $j, $h, $raw) = $api->call(POST => $P, body =>
    '{"service_id":"Meter","command_name":"set",'
    . '"paras":{"level":5,"mode":"eco"}}');
is($s, 200, 'a command to an attached device: 200') or diag($raw);
like($j->{command_id}, $UUID, '... command_id: the platform\'s (a UUID)');
ok(exists $j->{response} && !defined $j->{response}, '... response null');
ok(!exists $j->{error_code}, '... no error_code');
like($h->{'x-request-id'} // '', qr/^[0-9a-f]{32}\z/, '... X-Request-Id');
like($h->{'content-type'} // '', qr{^application/json}, '... JSON');
my $first = $j->{command_id};

is(received(),
   qq({"object_device_id":"$DEV","service_id":"Meter","command_name":"set",)
   . '"paras":{"level":5,"mode":"eco"}}',
   'the device received IoTDA\'s command, compact, exactly');

# the command_id kept beside its downlink
is(sql("SELECT c.fields || '|' || d.state || '|' || d.port"
       . " FROM iotda_commands c JOIN downlinks d ON d.id = c.downlink_id"
       . " WHERE c.command_id = '$first'"),
   '{"service_id":"Meter","command_name":"set","paras":{"level":5,'
   . "\"mode\":\"eco\"}}|1|$port",
   '... kept in the store: its fields and its downlink (sent)');
is(sql("SELECT count(*) FROM iotda_commands c JOIN devices d"
       . " ON d.id = c.device_id WHERE c.command_id = '$first'"), 1,
   '... of its device');
is(messages($DEV), 0, '... not among the device\'s messages');
my ($cs, $cj) = $c->call(GET => "/collections/$cid/devices/$did/downlinks");
is(scalar @{ $cj->{downlinks} || [] }, 1,
   '... a downlink in the collections dialect');
is($cj->{downlinks}[0]{port}, $port, '... to iot_iotda_message_port');

# every data type that fits
($s, $j) = $api->call(POST => $P, body => {
    service_id => 'Meter', command_name => 'set',
    paras => { level => 0, mode => 'full', label => 'abcd', ratio => -1.5,
               on => JSON::XS::false, cfg => { a => [1] }, tags => ['x', 'y'],
               when => '20240101T000000Z', big => 10_000_000_000 } });
is($s, 200, 'every data type of a parameter, at its bounds');
my $env = eval { JSON::XS::decode_json(received() // '') };
is_deeply($env->{paras}, { level => 0, mode => 'full', label => 'abcd',
                           ratio => -1.5, on => JSON::XS::false,
                           cfg => { a => [1] }, tags => ['x', 'y'],
                           when => '20240101T000000Z',
                           big => 10_000_000_000 },
          '... the paras as given');
($s) = $api->call(POST => $P, body => { service_id => 'Meter',
    command_name => 'set', paras => { level => 10, ratio => 1.5 } });
is($s, 200, '... max included');
received();

# command_name alone: the one service that has it
($s, $j) = $api->call(POST => $P, body => { command_name => 'open',
                                            paras => { pct => 40 } });
is($s, 200, 'command_name of one service, without service_id');
$env = eval { JSON::XS::decode_json(received() // '') };
is_deeply($env, { object_device_id => $DEV, service_id => 'Valve',
                  command_name => 'open', paras => { pct => 40 } },
          '... service_id is the service that has it');

# a command without a paras list takes any object
($s) = $api->call(POST => $P, body => {
    service_id => 'Meter', command_name => 'free',
    paras => { anything => [1, { b => undef }], x => 'y' } });
is($s, 200, 'a command without a paras list: any paras');
$env = eval { JSON::XS::decode_json(received() // '') };
is_deeply($env->{paras}, { anything => [1, { b => undef }], x => 'y' },
          '... sent as given');

($s) = $api->call(POST => $P, body => { service_id => 'Meter',
                                        command_name => 'none',
                                        paras => {} });
is($s, 200, 'a command of no parameters: {}');
received();

# no command named: paras are the application's
($s) = $api->call(POST => $P, body => { paras => { raw => 'cmd' } });
is($s, 200, 'neither service_id nor command_name');
is(received(),
   qq({"object_device_id":"$DEV","service_id":null,"command_name":null,)
   . '"paras":{"raw":"cmd"}}',
   '... sent with service_id and command_name null');

($s) = $api->call(POST => $P, body => { service_id => 'Valve',
                                        paras => { whatever => 1 } });
is($s, 200, 'service_id alone: a service of the model, any paras');
$env = eval { JSON::XS::decode_json(received() // '') };
is_deeply([ $env->{service_id}, $env->{command_name} ], [ 'Valve', undef ],
          '... command_name null');

# its registry id names it too
($s) = $api->call(POST => "/devices/$did/commands",
                  body => { command_name => 'open', paras => { pct => 1 } });
is($s, 200, 'the device named by its id of the collections dialect');
$env = eval { JSON::XS::decode_json(received() // '') };
is($env->{object_device_id}, $DEV, '... object_device_id its device_id');

# ------------------------------------------------------------ refusals

my $kept = sql('SELECT count(*) FROM iotda_commands');
my $downlinks = sql('SELECT count(*) FROM downlinks');

my @bad = (
    [ 'no paras', { service_id => 'Meter', command_name => 'free' },
      qr/paras/ ],
    [ 'paras null', { paras => undef }, qr/paras/ ],
    [ 'paras an array', { paras => [1] }, qr/paras/ ],
    [ 'paras a string', { paras => '{}' }, qr/paras/ ],
    [ 'service_id a number', { service_id => 5, paras => {} },
      qr/service_id/ ],
    [ 'service_id empty', { service_id => '', paras => {} },
      qr/service_id/ ],
    [ 'service_id of 65', { service_id => 's' x 65, paras => {} },
      qr/service_id/ ],
    [ 'service_id with a control character',
      { service_id => "Me\nter", paras => {} }, qr/service_id/ ],
    [ 'service_id not of the model', { service_id => 'Pump', paras => {} },
      qr/service_id/ ],
    [ 'command_name a number', { command_name => 1, paras => {} },
      qr/command_name/ ],
    [ 'command_name of 129', { command_name => 'c' x 129, paras => {} },
      qr/command_name/ ],
    [ 'command_name not of the service',
      { service_id => 'Valve', command_name => 'set',
        paras => { level => 1 } }, qr/command_name/ ],
    [ 'command_name of no service',
      { command_name => 'explode', paras => {} }, qr/command_name/ ],
    [ 'command_name of two services, no service_id',
      { command_name => 'reboot', paras => {} }, qr/service_id/ ],
    [ 'an unknown parameter',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, volume => 3 } }, qr/paras\.volume/ ],
    [ 'a parameter of a command of no parameters',
      { service_id => 'Meter', command_name => 'none',
        paras => { x => 1 } }, qr/paras\.x/ ],
    [ 'the required parameter missing',
      { service_id => 'Meter', command_name => 'set',
        paras => { mode => 'eco' } }, qr/paras\.level: .*required/ ],
    [ 'int as a string',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => '5' } }, qr/paras\.level/ ],
    [ 'int a fraction',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1.5 } }, qr/paras\.level/ ],
    [ 'int below min',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => -1 } }, qr/paras\.level/ ],
    [ 'int above max',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 11 } }, qr/paras\.level/ ],
    [ 'a parameter null',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => undef } }, qr/paras\.level/ ],
    [ 'enum not in the list',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, mode => 'turbo' } }, qr/paras\.mode/ ],
    [ 'string over max_length',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, label => 'abcde' } }, qr/paras\.label/ ],
    [ 'string a number',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, label => 12 } }, qr/paras\.label/ ],
    [ 'decimal above max',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, ratio => 1.51 } }, qr/paras\.ratio/ ],
    [ 'decimal a string',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, ratio => '0.5' } }, qr/paras\.ratio/ ],
    [ 'boolean a number',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, on => 1 } }, qr/paras\.on/ ],
    [ 'jsonObject an array',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, cfg => [] } }, qr/paras\.cfg/ ],
    [ 'string list of numbers',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, tags => [1] } }, qr/paras\.tags/ ],
    [ 'DateTime a number',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, when => 20240101 } }, qr/paras\.when/ ],
    [ 'long a string',
      { service_id => 'Meter', command_name => 'set',
        paras => { level => 1, big => '1' } }, qr/paras\.big/ ],
    [ 'int of the other service, without service_id, too big',
      { command_name => 'open', paras => { pct => 101 } }, qr/paras\.pct/ ],
    [ 'a command over 2048 bytes',
      { service_id => 'Meter', command_name => 'free',
        paras => { x => 'x' x 2000 } }, qr/2048/ ],
);

for my $b (@bad) {
    my @r = $api->call(POST => $P, body => $b->[1]);
    is_iotda_error(\@r, 400, 'IOTDA.000006', $b->[0]);
    like($r[1] && $r[1]{error_msg} // '', $b->[2], "$b->[0]: names the field");
}

is_iotda_error([$api->call(POST => $P, body => '{"paras":')], 400,
               'IOTDA.000008', 'a body that is not JSON');
is_iotda_error([$api->call(POST => $P, body => '[{"paras":{}}]')], 400,
               'IOTDA.000008', 'a body that is not an object');
is_iotda_error([$api->call(POST => $P)], 400, 'IOTDA.000008', 'no body');
ok(!defined received(1), 'nothing refused reached the device');
is(sql('SELECT count(*) FROM iotda_commands'), $kept,
   '... nor was kept as a command');
is(sql('SELECT count(*) FROM downlinks'), $downlinks, '... nor as a downlink');

($s) = $api->call(POST => $P, body => { service_id => 'Meter',
    command_name => 'free', paras => { x => 'x' x 1900 } });
is($s, 200, 'a command of about 2000 bytes goes');
like(received() // '', qr/^\{"object_device_id".*"x{1900}"\}\}\z/,
     '... whole');

# ------------------------------------------------------------ not online

($s, $j) = $api->call(POST => "/devices/$OFF/commands", body => {
    service_id => 'Meter', command_name => 'set', paras => { level => 1 } });
is($s, 403, 'a command to a device without an address: 403');
is($j->{error_code}, 'IOTDA.014016', '... IOTDA.014016');
like($j->{error_msg} // '', qr/not online/, '... the device is not online');
like($j->{command_id} // '', $UUID, '... with its command_id');
my $lost = $j->{command_id};
is(sql("SELECT d.state || '|' || d.reason FROM iotda_commands c"
       . " JOIN downlinks d ON d.id = c.downlink_id"
       . " WHERE c.command_id = '$lost'"), '3|1',
   '... kept: a failed downlink, no address');
ok(!defined received(1), '... nothing reached the attached device');
is_iotda_error([$api->call(POST => "/devices/$OFF/commands",
                           body => { paras => {} })],
               403, 'IOTDA.014016', 'not online, in the error format');

# ------------------------------------------------------------ no product

my $PL = "/devices/$plain->{deviceId}/commands";
is_iotda_error([$api->call(POST => $PL, body => { service_id => 'Meter',
                                                  paras => {} })],
               400, 'IOTDA.000006', 'a device without a product: service_id');
is_iotda_error([$api->call(POST => $PL, body => { command_name => 'set',
                                                  paras => {} })],
               400, 'IOTDA.000006', '... command_name');
($s, $j) = $api->call(POST => $PL, body => { paras => { go => 1 } });
is($s, 200, '... paras alone go');
is(received(5, $psock),
   qq({"object_device_id":"$plain->{deviceId}","service_id":null,)
   . '"command_name":null,"paras":{"go":1}}',
   '... received at its address');

# ------------------------------------------------------------ who may

is_iotda_error([$api->call(POST => '/devices/nosuchdevice/commands',
                           body => { paras => {} })],
               404, 'IOTDA.014000', 'an unknown device');
is_iotda_error([$read->call(POST => $P, body => { paras => {} })],
               403, 'IOTDA.000022', 'a read-only key cannot send a command');
is_iotda_error([$api->call(POST => $P, body => { paras => {} },
                           token => $ra->{token})],
               403, 'IOTDA.000022', 'a read-only token cannot either');
is_iotda_error([$other->call(POST => $P, body => { paras => {} })],
               404, 'IOTDA.014000', "another space's key: no such device");
is_iotda_error([$api->call(POST => "/devices/$inb->{deviceId}/commands",
                           body => { paras => {} }, token => $wa->{token})],
               404, 'IOTDA.014000', "a token of space A, B's device");
is_iotda_error([$api->call(POST => $P, body => { paras => {} },
                           project => '0' x 32)],
               403, 'IOTDA.000022', 'another project');
is_iotda_error([$api->call(GET => $P)], 405, 'IOTDA.000005', 'GET commands');
is_iotda_error([$api->call(POST => "$P/x", body => { paras => {} })], 404,
               'IOTDA.000004', 'a command by id: no such resource');
ok(!defined received(1), 'nothing refused reached the device');

($s, $j) = $signed->call(POST => $P, body => {
    service_id => 'Meter', command_name => 'set', paras => { level => 3 } });
is($s, 200, 'a signed command (V11-HMAC-SHA256)');
$env = eval { JSON::XS::decode_json(received() // '') };
is($env->{paras}{level}, 3, '... received');
is_iotda_error([$signed->call(POST => $P, body => { paras => {} },
                              tamper => sub { '{"paras":{"x":1}}' })],
               401, 'IOTDA.000002', 'a signed command whose body changed');
ok(!defined received(1), '... not sent');

# ------------------------------------------------------------ the SDK

SKIP: {
    my $run = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 5
        unless $run;

    my $sdk = sub { $run->($ak, $sk, @_) };

    my $r = $sdk->('POST', "/v5/iot/{project_id}$P", '{}',
                   '{"service_id":"Meter","command_name":"set",'
                   . '"paras":{"level":7}}');
    is($r->{status}, 200, 'SDK core: CreateCommand') or diag(explain $r);
    like($r->{body}{command_id} // '', $UUID, 'SDK core: command_id');
    is(received(),
       qq({"object_device_id":"$DEV","service_id":"Meter",)
       . '"command_name":"set","paras":{"level":7}}',
       'SDK core: the device received it');
    $r = $sdk->('POST', "/v5/iot/{project_id}$P", '{}',
                '{"service_id":"Meter","command_name":"set",'
                . '"paras":{"level":70}}');
    is($r->{error_code}, 'IOTDA.000006', 'SDK core: a refusal');
    $r = $sdk->('POST', "/v5/iot/{project_id}/devices/$OFF/commands", '{}',
                '{"paras":{}}');
    is($r->{error_code}, 'IOTDA.014016', 'SDK core: not online');
}

# ------------------------------------------------------------ CoAP

my ($CDEV, $cdid);
SKIP: {
    skip 'no sidecar or coap-client (./build.sh build)', 13 unless $coap;
    ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'the sidecar is up');
    product('cmd-coap', 'CoAP');
    ($CDEV, $cdid) = device('cmd-coap-1', 'cmd-coap', $CADDR);
    ($s, $j) = $api->call(POST => "/devices/$CDEV/commands", body =>
        '{"service_id":"Valve","command_name":"open","paras":{"pct":9}}');
    is($s, 200, 'a command to a CoAP product\'s device: 200');
    like($j->{command_id} // '', $UUID, '... command_id');
    my $id = $j->{command_id};
    my (undef, $dl) = $c->call(GET => "/collections/$cid/devices/$cdid"
                                      . '/downlinks?limit=1');
    is($dl->{downlinks}[0]{transport}, 'coap-pull', '... a coap-pull downlink');
    is($dl->{downlinks}[0]{state}, 'queued', '... queued for the device');
    my $g = $coap->client(from => $CADDR, method => 'get', path => 'cmd');
    is($g->{code}, '2.05', 'the device\'s CoAP GET: 2.05');
    is($g->{body},
       qq({"object_device_id":"$CDEV","service_id":"Valve",)
       . '"command_name":"open","paras":{"pct":9}}',
       '... IoTDA\'s command, exactly');
    ok(IoT::Test::wait_until(sub {
        sql("SELECT d.state FROM iotda_commands c JOIN downlinks d"
            . " ON d.id = c.downlink_id WHERE c.command_id = '$id'") eq '2'
    }, 10), '... delivered, by its command_id');
    is(messages($CDEV), 0, '... not among the messages');
    $coap->stop;
}

# ------------------------------------------------------------ the product

my %badp = (
    'command_name missing'  => [{ paras => [] }],
    'command_name of 65'    => [{ command_name => 'c' x 65 }],
    'command_name a number' => [{ command_name => 5 }],
    'command_name twice'    => [{ command_name => 'a' },
                                { command_name => 'a' }],
    'a command not object'  => ['reset'],
    'paras an object'       => [{ command_name => 'a', paras => {} }],
    'a para not object'     => [{ command_name => 'a', paras => ['p'] }],
    'para_name missing'     => [{ command_name => 'a',
                                  paras => [{ data_type => 'int' }] }],
    'para_name of 33'       => [{ command_name => 'a',
                                  paras => [{ para_name => 'p' x 33,
                                              data_type => 'int' }] }],
    'para_name twice'       => [{ command_name => 'a', paras => [
                                  { para_name => 'p', data_type => 'int' },
                                  { para_name => 'p', data_type => 'long' }] }],
    'data_type missing'     => [{ command_name => 'a',
                                  paras => [{ para_name => 'p' }] }],
    'data_type unknown'     => [{ command_name => 'a',
                                  paras => [{ para_name => 'p',
                                              data_type => 'float' }] }],
    'min a number'          => [{ command_name => 'a',
                                  paras => [{ para_name => 'p',
                                              data_type => 'int',
                                              min => 0 }] }],
    'required not boolean'  => [{ command_name => 'a',
                                  paras => [{ para_name => 'p',
                                              data_type => 'int',
                                              required => 'yes' }] }],
    'enum_list of numbers'  => [{ command_name => 'a',
                                  paras => [{ para_name => 'p',
                                              data_type => 'enum',
                                              enum_list => [1] }] }],
    'max_length negative'   => [{ command_name => 'a',
                                  paras => [{ para_name => 'p',
                                              data_type => 'string',
                                              max_length => -1 }] }],
);

my $products = ($api->call(GET => '/products', query => 'limit=50'))[1];
for my $name (sort keys %badp) {
    my $body = { product_id => 'bad-cmd', name => 'x', device_type => 'x',
                 protocol_type => 'MQTT', data_format => 'json',
                 app_id => $cid,
                 service_capabilities => [{ service_id => 's',
                                            commands => $badp{$name} }] };
    is_iotda_error([$api->call(POST => '/products', body => $body)], 400,
                   'IOTDA.000006', "a product refused: $name");
    is_iotda_error([$api->call(PUT => '/products/cmd-meter', body => {
                        service_capabilities =>
                            $body->{service_capabilities} })],
                   400, 'IOTDA.000006', "a product's update refused: $name");
}
is_deeply(($api->call(GET => '/products', query => 'limit=50'))[1],
          $products, 'nothing refused was stored or changed');
($s, $j) = $api->call(GET => '/products/cmd-meter');
is_deeply($j->{service_capabilities}[0]{commands}[0]{paras}, \@SET_PARAS,
          'a command\'s paras kept as given');
is_deeply($j->{service_capabilities}[0]{commands}[0]{responses},
          [{ response_name => 'ok' }], '... and its responses');

# ------------------------------------------------------------ restart

my $n = sql('SELECT count(*) FROM iotda_commands');
$t->restart;
is(sql('SELECT count(*) FROM iotda_commands'), $n,
   'after a restart: every command kept');
is(sql("SELECT count(*) FROM iotda_commands WHERE command_id = '$first'"),
   1, '... the first one too');
($s, $j) = $api->call(POST => $P, body => { command_name => 'open',
                                            paras => { pct => 2 } });
is($s, 200, '... commands go on');
isnt($j->{command_id}, $first, '... with a new command_id');
ok(defined received(), '... received');

# ------------------------------------------------------------ coap-push

SKIP: {
    skip 'no sidecar or coap-client (./build.sh build)', 6 unless $CDEV;
    my $stub = IoT::CoapDevice->new(addr => $CADDR, mode => '2.01');
    $t->stop;
    $t->write_config(location => locations('iot_iotda_coap_downlink push;'
                                           . ' iot_iotda_message_port '
                                           . $stub->port . ';'),
                     stream_conf => $stream);
    $t->start;
    ok($coap->start(args => [ '-T', 1, '-R', 1 ]), 'coap-push: the sidecar');
    ($s, $j) = $api->call(POST => "/devices/$CDEV/commands", body =>
        '{"command_name":"open","paras":{"pct":12}}');
    is($s, 200, 'a command pushed to the CoAP device: 200');
    my $id = $j->{command_id} // '';
    my $state = sub {
        sql("SELECT d.state FROM iotda_commands c"
            . " JOIN downlinks d ON d.id = c.downlink_id"
            . " WHERE c.command_id = '$id'");
    };
    ok($stub->serve(15, sub { $state->() ne '0' }),
       'the device answers 2.01');
    is($state->(), '2', '... delivered, by its command_id');
    my $got = $stub->got->[-1] // {};
    is($got->{path}, '', '... POSTed to the root path');
    is($got->{payload},
       qq({"object_device_id":"$CDEV","service_id":"Valve",)
       . '"command_name":"open","paras":{"pct":12}}',
       '... IoTDA\'s command, exactly');
    $coap->stop;
}

$t->check_log('iotda commands');
$t->finish;
done_testing;
