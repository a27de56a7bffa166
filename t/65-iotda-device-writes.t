#!/usr/bin/perl

# The iotda dialect's device writes: POST /devices with every field rule of
# the spec (device_id, node_id, device_name, product_id, description,
# gateway_id, app_id, extension_info, auth_info, shadow), device_id's
# default, node_id unique in the registry (an IMEI-shaped one is the
# device's IMEI), child devices two levels deep at most, the answer with
# every field and no secret; PUT, DELETE (refused while a gateway has
# children), resetSecret, freeze and unfreeze, tags, the list's
# product_id, gateway_id and is_cascade_query; signed by the SDK core;
# everything after a restart; no secret in the log.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
my $inb = $c->create_device($B->{collectionId});

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);

my $wa = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::true });
my $ra = $c->create_token({ resource => "/collections/$A->{collectionId}",
                            write => JSON::XS::false });
my ($wak, $wsk) = access_key($wa->{token});
my ($rak, $rsk) = access_key($ra->{token});
my $signed_a = IoT::Iotda->new($t, project => $project, ak => $wak,
                               sk => $wsk);
my $read_a = IoT::Iotda->new($t, project => $project, ak => $rak,
                             sk => $rsk, algorithm => 'V11-HMAC-SHA256');

my ($s, $j) = $api->call(POST => '/products', body => {
    product_id => 'meter', name => 'Thermometer', device_type => 'Meter',
    protocol_type => 'CoAP', data_format => 'json',
    app_id => $A->{collectionId},
    service_capabilities => [{
        service_id => 'WaterMeter',
        properties => [
            { property_name => 'temperature', data_type => 'int',
              min => '0', max => '100', method => 'RW',
              default_value => 20 },
            { property_name => 'mode', data_type => 'enum',
              enum_list => ['eco', 'full'], method => 'RW' },
        ],
    }],
});
is($s, 201, 'a product') or diag(explain $j);
($s) = $api->call(POST => '/products', body => {
    product_id => 'in-b', name => 'B', device_type => 'x',
    protocol_type => 'UDP', data_format => 'binary',
    app_id => $B->{collectionId},
    service_capabilities => [{ service_id => 's' }] });
is($s, 201, "a product of B");

sub device {
    my (%over) = @_;
    my %b = (node_id => 'node-0001', product_id => 'meter',
             device_name => 'dev one', description => 'a meter (test)',
             auth_info => { auth_type => 'SECRET',
                            secret => 'abcd1234efgh', secure_access =>
                            JSON::XS::true },
             extension_info => { aaa => 'xxx', bbb => 0 }, %over);
    delete $b{$_} for grep { !defined $over{$_} && exists $over{$_} }
                      keys %over;
    return \%b;
}

# ------------------------------------------------------------ create

($s, $j, $h) = $api->call(POST => '/devices', body => device());
is($s, 201, 'create') or diag(explain $j);
is($j->{device_id}, 'meter_node-0001', 'device_id: product_id _ node_id');
is($j->{node_id}, 'node-0001', 'node_id');
is($j->{gateway_id}, 'meter_node-0001', 'directly connected: its own gateway');
is($j->{node_type}, 'GATEWAY', 'node_type of a directly connected device');
is($j->{device_name}, 'dev one', 'device_name');
is($j->{description}, 'a meter (test)', 'description');
is($j->{app_id}, $A->{collectionId}, "app_id: the product's space");
is($j->{app_name}, 'space-a', 'app_name');
is($j->{product_id}, 'meter', 'product_id');
is($j->{product_name}, 'Thermometer', 'product_name');
is($j->{status}, 'INACTIVE', 'status');
like($j->{create_time}, qr/^\d{8}T\d{6}Z\z/, 'create_time');
ok(exists $j->{$_} && !defined $j->{$_}, "$_ null")
    for qw(connection_status_update_time active_time);
is_deeply($j->{tags}, [], 'tags');
is_deeply($j->{extension_info}, { aaa => 'xxx', bbb => 0 },
          'extension_info');
is($j->{auth_info}{auth_type}, 'SECRET', 'auth_type');
is($j->{auth_info}{secret}, '********', 'the secret masked');
is($j->{auth_info}{secure_access}, JSON::XS::true, 'secure_access');
is($j->{auth_info}{timeout}, 0, 'timeout');
is($j->{$_}, '', "$_ empty")
    for qw(fw_version sw_version device_sdk_version);
like($h->{'x-request-id'}, qr/^[0-9a-f]{32}\z/, 'X-Request-Id');
unlike(JSON::XS::encode_json($j), qr/abcd1234efgh/, 'no secret in clear');
my $first = $j;

($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is($s, 200, 'show by its device_id');
is_deeply($j, $first, 'show: as created');

# the device of the registry: its id of the collections dialect names it
my ($cd) = grep { ($_->{tags}{name} // '') eq 'dev one' }
    @{ ($c->call(GET => "/collections/$A->{collectionId}/devices"))[1]
       {devices} };
ok($cd, 'the device in the collections dialect');
($s, $j) = $api->call(GET => "/devices/$cd->{deviceId}");
is($j->{device_id}, 'meter_node-0001', 'its id of the registry names it');

# ------------------------------------------------------------ field rules

my %bad = (
    'device_id too long'     => { device_id => 'd' x 129 },
    'device_id characters'   => { device_id => 'a b' },
    'node_id missing'        => { node_id => undef },
    'node_id empty'          => { node_id => '' },
    'node_id too long'       => { node_id => 'n' x 65 },
    'node_id characters'     => { node_id => 'n.1' },
    'device_name too long'   => { device_name => 'd' x 257 },
    'device_name characters' => { device_name => 'a/b' },
    'device_name a number'   => { device_name => 5 },
    'product_id missing'     => { product_id => undef },
    'product_id too long'    => { product_id => 'p' x 37 },
    'product_id characters'  => { product_id => 'p*' },
    'description too long'   => { description => 'd' x 2049 },
    'description characters' => { description => 'x<y' },
    'gateway_id too long'    => { gateway_id => 'g' x 129 },
    'gateway_id characters'  => { gateway_id => 'g g' },
    'app_id too long'        => { app_id => 'a' x 37 },
    'app_id characters'      => { app_id => 'a.b' },
    'extension_info array'   => { extension_info => [1] },
    'extension_info > 1 KB'  => { extension_info => { k => 'v' x 1100 } },
    'auth_info a string'     => { auth_info => 'SECRET' },
    'auth_type unknown'      => { auth_info => { auth_type => 'KEY',
                                                 secret => 'abcd1234' } },
    'secret too short'       => { auth_info => { secret => 'abc1234' } },
    'secret too long'        => { auth_info => { secret => 's' x 33 } },
    'secret characters'      => { auth_info => { secret => 'abcd 1234' } },
    'SECRET without secret'  => { auth_info => { auth_type => 'SECRET' } },
    'a secret with certs'    => { auth_info => { auth_type => 'CERTIFICATES',
                                                 secret => 'abcd1234' } },
    'fingerprint 39 hex'     => { auth_info => { auth_type => 'CERTIFICATES',
                                                 fingerprint => 'a' x 39 } },
    'fingerprint not hex'    => { auth_info => { auth_type => 'CERTIFICATES',
                                                 fingerprint => 'g' x 40 } },
    'fingerprint of SECRET'  => { auth_info => { secret => 'abcd1234',
                                                 fingerprint => 'a' x 40 } },
    'secure_access a string' => { auth_info => { secret => 'abcd1234',
                                                 secure_access => 'yes' } },
    'timeout negative'       => { auth_info => { secret => 'abcd1234',
                                                 timeout => -1 } },
    'timeout too large'      => { auth_info => { secret => 'abcd1234',
                                                 timeout => 2147483648 } },
    'timeout a string'       => { auth_info => { secret => 'abcd1234',
                                                 timeout => '5' } },
    'shadow an object'       => { shadow => {} },
    'shadow: unknown service'  => { shadow => [{ service_id => 'Gas',
                                    desired => { temperature => 1 } }] },
    'shadow: unknown property' => { shadow => [{ service_id => 'WaterMeter',
                                    desired => { pressure => 1 } }] },
    'shadow: above max'      => { shadow => [{ service_id => 'WaterMeter',
                                    desired => { temperature => 101 } }] },
    'shadow: wrong type'     => { shadow => [{ service_id => 'WaterMeter',
                                    desired => { temperature => '5' } }] },
    'shadow: not in enum'    => { shadow => [{ service_id => 'WaterMeter',
                                    desired => { mode => 'half' } }] },
    'shadow: no desired'     => { shadow => [{ service_id => 'WaterMeter' }] },
    'shadow: key with .'     => { shadow => [{ service_id => 'WaterMeter',
                                    desired => { 'a.b' => 1 } }] },
);
my $n = 0;
for my $name (sort keys %bad) {
    my $node = sprintf 'bad-%03d', $n++;
    is_iotda_error([$api->call(POST => '/devices',
                               body => device(node_id => $node,
                                              %{ $bad{$name} }))],
                   400, 'IOTDA.000006', $name);
}
is_iotda_error([$api->call(POST => '/devices', body => '[1]')], 400,
               'IOTDA.000008', 'a body that is no object');
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => 'x1',
                                          product_id => 'nothing'))],
               400, 'IOTDA.009002', 'a product that does not exist');
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => 'x2',
                                          app_id => $B->{collectionId}))],
               400, 'IOTDA.000006', "a product of another space than app_id");
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => 'x3',
                                          app_id => 'zzzzzzzzzzzzz'))],
               403, 'IOTDA.001000', 'an app_id that does not exist');
is_iotda_error([$signed_a->call(POST => '/devices',
                                body => device(node_id => 'x4',
                                               product_id => 'in-b'))],
               400, 'IOTDA.009002', "A's key: B's product does not exist");
is_iotda_error([$read_a->call(POST => '/devices',
                              body => device(node_id => 'x5'))],
               403, 'IOTDA.000022', 'a read-only key');

($s, $j) = $api->call(GET => '/devices', query => 'limit=50');
is($j->{page}{count}, 2, 'nothing refused was made');

# ------------------------------------------------------------ uniqueness

is_iotda_error([$api->call(POST => '/devices', body => device())],
               400, 'IOTDA.014031', 'the same device again');
is_iotda_error([$api->call(POST => '/devices',
                           body => device(device_id => 'other'))],
               400, 'IOTDA.014031', 'node_id taken');
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => 'node-0002',
                                          device_id => 'meter_node-0001'))],
               400, 'IOTDA.014031', 'device_id taken');
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => 'node-0003',
                                          device_id => $cd->{deviceId}))],
               400, 'IOTDA.014031', "device_id: another device's own id");

# an IMEI-shaped node_id is the device's IMEI
my $imei = $t->next_imei;
($s, $j) = $api->call(POST => '/devices',
                      body => device(node_id => $imei, device_name => 'nb',
                                     device_id => undef));
is($s, 201, 'an IMEI as node_id') or diag(explain $j);
is($j->{node_id}, $imei, 'node_id: the IMEI');
my $nb = $j;
my ($cnb) = grep { ($_->{imei} // '') eq $imei }
    @{ ($c->call(GET => "/collections/$A->{collectionId}/devices"))[1]
       {devices} };
ok($cnb, 'the collections dialect shows it as the IMEI');
my $other = $c->create_device($A->{collectionId});
is_iotda_error([$api->call(POST => '/devices',
                           body => device(node_id => $other->{imei},
                                          device_id => 'x6'))],
               400, 'IOTDA.014031', "node_id: a collections device's IMEI");
my $r = ($c->call(POST => "/collections/$A->{collectionId}/devices",
                  body => { imsi => $t->next_imsi, imei => $imei }))[0];
is($r, 409, 'the collections dialect: the IMEI is taken');

# ------------------------------------------------------------ certificates

($s, $j) = $api->call(POST => '/devices', body => device(
    node_id => 'cert-1', auth_info => { auth_type => 'CERTIFICATES',
        fingerprint => 'dc0f1016f495157344ac5f1296335cff725ef22f',
        secure_access => JSON::XS::false, timeout => 300 }));
is($s, 201, 'CERTIFICATES') or diag(explain $j);
is($j->{auth_info}{auth_type}, 'CERTIFICATES', 'auth_type');
is($j->{auth_info}{fingerprint}, 'dc0f****f22f', 'the fingerprint masked');
is($j->{auth_info}{secure_access}, JSON::XS::false, 'secure_access false');
is($j->{auth_info}{timeout}, 300, 'timeout');
ok(!exists $j->{auth_info}{secret}, 'no secret');
my $cert = $j;

# ------------------------------------------------------------ children

($s, $j) = $api->call(POST => '/devices', body => device(
    node_id => 'child-1', gateway_id => 'meter_node-0001',
    auth_info => undef));
is($s, 201, 'a child device') or diag(explain $j);
is($j->{gateway_id}, 'meter_node-0001', "gateway_id: the parent's");
is($j->{node_type}, 'ENDPOINT', 'node_type of a child');
($s, $j) = $api->call(POST => '/devices', body => device(
    node_id => 'child-2', gateway_id => 'meter_child-1',
    auth_info => undef));
is($s, 201, 'a child of a child (second level)') or diag(explain $j);
is_iotda_error([$api->call(POST => '/devices', body => device(
                    node_id => 'child-3', gateway_id => 'meter_child-2'))],
               400, 'IOTDA.000006', 'no third level');
is_iotda_error([$api->call(POST => '/devices', body => device(
                    node_id => 'child-4', gateway_id => 'nothing'))],
               400, 'IOTDA.000006', 'a gateway that does not exist');
($s, $j) = $api->call(POST => '/devices', body => device(
    node_id => 'child-5', gateway_id => $cd->{deviceId}, auth_info => undef));
is($s, 201, "a gateway named by its registry id");
is($j->{gateway_id}, 'meter_node-0001', 'shown by its device_id');

# the list's filters
($s, $j) = $api->call(GET => '/devices',
                      query => 'gateway_id=meter_node-0001&limit=50');
is_deeply([sort map { $_->{device_id} } @{ $j->{devices} }],
          [qw(meter_child-1 meter_child-5)], 'gateway_id: the first level');
is($j->{page}{count}, 2, 'gateway_id: page.count');
($s, $j) = $api->call(GET => '/devices',
    query => 'gateway_id=meter_node-0001&is_cascade_query=true&limit=50');
is_deeply([sort map { $_->{device_id} } @{ $j->{devices} }],
          [qw(meter_child-1 meter_child-2 meter_child-5)],
          'is_cascade_query: both levels');
($s, $j) = $api->call(GET => '/devices', query => 'product_id=meter&limit=50');
is($j->{page}{count}, 6, "product_id: the product's devices");
($s, $j) = $api->call(GET => '/devices', query => 'product_id=in-b');
is($j->{page}{count}, 0, 'product_id: none');
($s, $j) = $api->call(GET => '/devices', query => 'node_id=child-2');
is_deeply([map { $_->{device_id} } @{ $j->{devices} }], ['meter_child-2'],
          'node_id: a node id of the iotda part');
($s, $j) = $api->call(GET => '/devices', query => "node_id=$imei");
is($j->{page}{count}, 1, 'node_id: an IMEI');
ok(!(grep { exists $_->{auth_info} } @{ $j->{devices} }),
   'list items without auth_info');

# ------------------------------------------------------------ delete

is_iotda_error([$api->call(DELETE => '/devices/meter_node-0001')],
               409, 'IOTDA.014039', 'a gateway with children stays');
is(($c->call(DELETE => "/collections/$A->{collectionId}/devices/"
                       . $cd->{deviceId}))[0], 409,
   'the collections dialect: the gateway stays too');
is_iotda_error([$api->call(DELETE => '/devices/meter_child-1')],
               409, 'IOTDA.014039', 'a first level child with a child stays');
is(($api->call(DELETE => '/devices/meter_child-2'))[0], 204,
   'the second level child deleted');
is(($api->call(DELETE => '/devices/meter_child-1'))[0], 204,
   'then the first level');
is_iotda_error([$api->call(GET => '/devices/meter_child-1')],
               404, 'IOTDA.014000', 'gone');
is_iotda_error([$api->call(DELETE => '/devices/meter_child-1')],
               404, 'IOTDA.014000', 'delete again');
($s, $j) = $api->call(POST => '/devices', body => device(
    node_id => 'child-1', gateway_id => 'meter_node-0001',
    auth_info => undef));
is($s, 201, 'its node_id and device_id are free again');
is(($api->call(DELETE => '/devices/meter_child-1'))[0], 204, 'and gone');
is(($api->call(DELETE => '/devices/meter_child-5'))[0], 204,
   'the last child');
is_iotda_error([$api->call(DELETE => "/products/meter")],
               409, 'IOTDA.009003', 'a product with devices stays');

# ------------------------------------------------------------ update

($s, $j) = $api->call(PUT => '/devices/meter_node-0001', body => {
    device_name => 'renamed', description => 'changed',
    extension_info => { v => 2 },
    auth_info => { secure_access => JSON::XS::false, timeout => 60 } });
is($s, 200, 'update') or diag(explain $j);
is($j->{device_name}, 'renamed', 'device_name');
is($j->{description}, 'changed', 'description');
is_deeply($j->{extension_info}, { v => 2 }, 'extension_info');
is($j->{auth_info}{secure_access}, JSON::XS::false, 'secure_access');
is($j->{auth_info}{timeout}, 60, 'timeout');
is($j->{auth_info}{secret}, '********', 'the secret kept, masked');
($s, $j) = $c->call(GET => "/collections/$A->{collectionId}/devices/"
                           . $cd->{deviceId});
is($j->{tags}{name}, 'renamed', 'the collections dialect: tags.name');
is_iotda_error([$api->call(PUT => '/devices/meter_node-0001',
                           body => { device_name => 'a/b' })],
               400, 'IOTDA.000006', 'update: device_name characters');
is_iotda_error([$api->call(PUT => '/devices/meter_node-0001',
                           body => { auth_info => { secret => 'abcd1234' } })],
               400, 'IOTDA.000006', 'update: no secret here');
is_iotda_error([$api->call(PUT => '/devices/meter_node-0001',
                           body => { extension_info => 'x' })],
               400, 'IOTDA.000006', 'update: extension_info');
is_iotda_error([$read_a->call(PUT => '/devices/meter_node-0001',
                              body => { device_name => 'x' })],
               403, 'IOTDA.000022', 'update: a read-only key');
is_iotda_error([$api->call(PUT => '/devices/nothing',
                           body => { device_name => 'x' })],
               404, 'IOTDA.014000', 'update: no such device');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is($j->{device_name}, 'renamed', 'nothing refused was changed');

# ------------------------------------------------------------ reset secret

($s, $j) = $api->call(POST => '/devices/meter_node-0001/action',
                      query => 'action_id=resetSecret',
                      body => { secret => 'newSecret-99' });
is($s, 200, 'resetSecret') or diag(explain $j);
is_deeply($j, { device_id => 'meter_node-0001', secret => 'newSecret-99',
                secret_type => 'PRIMARY' }, 'the new secret, once');
($s, $j) = $api->call(POST => '/devices/meter_node-0001/action',
                      query => 'action_id=resetSecret');
is($s, 200, 'resetSecret without a body');
like($j->{secret}, qr/^[0-9a-f]{32}\z/, 'a secret made by the platform');
my $made = $j->{secret};
($s, $j) = $api->call(POST => '/devices/meter_node-0001/action',
                      query => 'action_id=resetSecret',
                      body => { secret => 'second-secret',
                                secret_type => 'SECONDARY' });
is($j->{secret_type}, 'SECONDARY', 'a secondary secret');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is($j->{auth_info}{secondary_secret}, '********', 'masked');
unlike(JSON::XS::encode_json($j), qr/\Q$made\E|second-secret/,
       'no secret in the device');
is_iotda_error([$api->call(POST => '/devices/meter_node-0001/action',
                           query => 'action_id=reboot')],
               400, 'IOTDA.000006', 'another action');
is_iotda_error([$api->call(POST => '/devices/meter_node-0001/action',
                           query => 'action_id=resetSecret',
                           body => { secret => 'short' })],
               400, 'IOTDA.000006', 'a short secret');
is_iotda_error([$api->call(POST => '/devices/meter_node-0001/action',
                           query => 'action_id=resetSecret',
                           body => { secret_type => 'THIRD' })],
               400, 'IOTDA.000006', 'secret_type');
is_iotda_error([$api->call(POST => "/devices/$cert->{device_id}/action",
                           query => 'action_id=resetSecret')],
               400, 'IOTDA.000006', 'a device of certificates');

# the secret is in the store only, where a transport finds it by node_id
my $db = $t->prefix . '/var/iot.db';
my $q = sub { my $sql = shift; my $o = `sqlite3 '$db' "$sql"`; chomp $o; $o };
is($q->("SELECT secret FROM iotda_devices WHERE node_id = 'node-0001'"),
   $made, 'the secret in the store, by node_id');
is($q->("SELECT secondary_secret FROM iotda_devices"
        . " WHERE node_id = 'node-0001'"), 'second-secret',
   'the secondary one');
is($q->("SELECT i.secret FROM iotda_devices i, devices d WHERE d.imei ="
        . " '$imei' AND i.device = d.id AND i.node_id IS NULL"),
   'abcd1234efgh', "an IMEI's secret, by the device's IMEI");
is((stat $db)[2] & 0077, 0, 'the store is private');

# ------------------------------------------------------------ freeze

is(($api->call(POST => '/devices/meter_node-0001/freeze'))[0], 200,
   'freeze');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is($j->{status}, 'FROZEN', 'status FROZEN');
is(($api->call(POST => '/devices/meter_node-0001/freeze'))[0], 200,
   'freeze again');
is(($api->call(POST => '/devices/meter_node-0001/unfreeze'))[0], 200,
   'unfreeze');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is($j->{status}, 'INACTIVE', 'status again');
is_iotda_error([$api->call(POST => '/devices/meter_node-0001/unfreeze')],
               400, 'IOTDA.014040', 'unfreeze a device not frozen');
($s) = $api->call(POST => '/devices', body => device(
    node_id => 'child-9', gateway_id => 'meter_node-0001',
    auth_info => undef));
is_iotda_error([$api->call(POST => '/devices/meter_child-9/freeze')],
               400, 'IOTDA.014038', 'a child is not frozen');
is_iotda_error([$read_a->call(POST => '/devices/meter_node-0001/freeze')],
               403, 'IOTDA.000022', 'freeze: read-only');
is_iotda_error([$api->call(GET => '/devices/meter_node-0001/freeze')],
               405, 'IOTDA.000005', 'freeze: POST only');

# ------------------------------------------------------------ tags

($s) = $api->call(POST => '/tags/bind-resource', body => {
    resource_type => 'device', resource_id => 'meter_node-0001',
    tags => [{ tag_key => 'floor', tag_value => '3' },
             { tag_key => 'room.a', tag_value => 'x-1' }] });
is($s, 200, 'bind tags');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is_deeply($j->{tags}, [{ tag_key => 'floor', tag_value => '3' },
                       { tag_key => 'room.a', tag_value => 'x-1' }],
          'the tags');
($s) = $api->call(POST => '/tags/bind-resource', body => {
    resource_type => 'device', resource_id => 'meter_node-0001',
    tags => [{ tag_key => 'floor', tag_value => '4' }] });
($s, $j) = $api->call(GET => '/devices', query => 'node_id=node-0001');
is_deeply($j->{devices}[0]{tags},
          [{ tag_key => 'room.a', tag_value => 'x-1' },
           { tag_key => 'floor', tag_value => '4' }],
          'a key bound again: its new value (in lists too)');
($s) = $api->call(POST => '/tags/unbind-resource', body => {
    resource_type => 'device', resource_id => 'meter_node-0001',
    tag_keys => ['room.a', 'none'] });
is($s, 200, 'unbind');
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is_deeply($j->{tags}, [{ tag_key => 'floor', tag_value => '4' }],
          'one tag left');
my %badtags = (
    'resource_type' => { resource_type => 'product' },
    'no tags'       => { tags => [] },
    'key too long'  => { tags => [{ tag_key => 'k' x 65, tag_value => '' }] },
    'key chars'     => { tags => [{ tag_key => 'a b', tag_value => '' }] },
    'value long'    => { tags => [{ tag_key => 'k', tag_value => 'v' x 129 }] },
    'too many'      => { tags => [map { { tag_key => "k$_", tag_value => '' } }
                                  1 .. 11] },
);
for my $name (sort keys %badtags) {
    is_iotda_error([$api->call(POST => '/tags/bind-resource', body => {
                        resource_type => 'device',
                        resource_id => 'meter_node-0001',
                        %{ $badtags{$name} } })],
                   400, 'IOTDA.000006', "tags: $name");
}
($s) = $api->call(POST => '/tags/bind-resource', body => {
    resource_type => 'device', resource_id => 'meter_node-0001',
    tags => [map { { tag_key => "k$_", tag_value => '' } } 1 .. 9] });
is_iotda_error([$api->call(POST => '/tags/bind-resource', body => {
                    resource_type => 'device',
                    resource_id => 'meter_node-0001',
                    tags => [{ tag_key => 'k10', tag_value => '' }] })],
               400, 'IOTDA.000006', 'tags: at most 10 on a device');
is_iotda_error([$api->call(POST => '/tags/bind-resource', body => {
                    resource_type => 'device', resource_id => 'nothing',
                    tags => [{ tag_key => 'a', tag_value => '' }] })],
               404, 'IOTDA.014000', 'tags: no such device');

# ------------------------------------------------------------ the SDK

SKIP: {
    my $run = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules', 4 unless $run;

    my $sdk = sub { $run->($wak, $wsk, @_) };
    my $res = $sdk->('POST', '/v5/iot/{project_id}/devices', '{}',
                     JSON::XS::encode_json(device(node_id => 'by-sdk')));
    is($res->{status}, 201, 'SDK core: a signed create')
        or diag(explain $res);
    is($res->{body}{device_id}, 'meter_by-sdk', 'SDK core: the device');
    $res = $sdk->('DELETE', '/v5/iot/{project_id}/devices/meter_by-sdk');
    is($res->{status}, 204, 'SDK core: a signed delete');
    $res = $sdk->('POST', '/v5/iot/{project_id}/devices', '{}',
                  JSON::XS::encode_json(device(node_id => 'by-sdk',
                                               product_id => 'in-b')));
    is($res->{error_code}, 'IOTDA.009002',
       "SDK core: B's product for A's key");
}

# ------------------------------------------------------------ restart

($s, my $before) = $api->call(GET => '/devices/meter_node-0001');
$t->restart;
($s, $j) = $api->call(GET => '/devices/meter_node-0001');
is_deeply($j, $before, 'after a restart: the same device');
is_iotda_error([$api->call(DELETE => '/devices/meter_node-0001')],
               409, 'IOTDA.014039', 'after a restart: its child is known');
is_iotda_error([$api->call(POST => '/devices', body => device())],
               400, 'IOTDA.014031', 'after a restart: its node_id is taken');

my $log = $t->read_log;
for my $secret ('abcd1234efgh', 'newSecret-99', $made, 'second-secret') {
    unlike($log, qr/\Q$secret\E/, 'no secret in the error log');
}

$t->finish;
done_testing;
