#!/usr/bin/perl

# Access keys made like Huawei IAM's permanent access keys
# (/v3.0/OS-CREDENTIAL/credentials, served by the iotda dialect): made,
# listed, shown and deleted by the administrator only; the secret key
# answered once and never again; every field rule (IAM.xxxx codes);
# requests signed with such a key (both algorithms, the client's signer
# and the Huawei Cloud SDK core) reach the team's project, write or read
# only, and no other project; a deleted key is refused at once; keys
# verify after a restart; the API tokens' derived keys still work.
# Refused signatures are counted ($iot_iotda_stats) and logged at info.

use strict;
use warnings;

use Test::More;
use JSON::XS ();
use IoT::Test;
use IoT::Collections;
use IoT::Iotda;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS
    . "location = /iotda-stats {\n    return 200 \"\$iot_iotda_stats\";\n}\n");
$t->start;

my $c = IoT::Collections->new($t);
my $A = $c->create_collection({ tags => { name => 'space-a' } });
my $B = $c->create_collection({ tags => { name => 'space-b' } });
my $DA = $c->create_device($A->{collectionId});
my $DB = $c->create_device($B->{collectionId});

my ($st, $h, $raw) = $t->http(GET => '/devices',
    headers => { Authorization => 'Bearer ' . $t->admin_token });
my ($uuid) = $raw =~ /"clientId":"([0-9a-f-]{36})"/;
(my $project = $uuid) =~ s/-//g;
my $api = IoT::Iotda->new($t, project => $project);
my $IAM = '/v3.0/OS-CREDENTIAL/credentials';

# ($status, $json, $headers, $raw) of the credentials endpoint
sub iam {
    my ($method, $path, %o) = @_;
    my %hh = ('Content-Type' => 'application/json',
              'X-Auth-Token' => $o{token} // $t->admin_token);
    delete $hh{'X-Auth-Token'} if exists $o{token} && !defined $o{token};
    my $body = exists $o{body}
        ? (ref $o{body} ? JSON::XS::encode_json($o{body}) : $o{body})
        : undef;
    my ($s, $hd, $r) = $t->http($method, $path, headers => \%hh,
                                (defined $body ? (body => $body) : ()));
    my $j = eval { JSON::XS::decode_json($r) };
    return ($s, (ref $j eq 'HASH' ? $j : undef), $hd, $r);
}

sub stats {
    my ($s, $hd, $r) = $t->http(GET => '/iotda-stats');
    return JSON::XS::decode_json($r);
}

my $stats0 = stats();
is($stats0->{refused}, 0, '$iot_iotda_stats: nothing refused yet');

# ------------------------------------------------------------ create

my ($s, $j, $hd) = iam(POST => $IAM, body => {
    credential => { user_id => $project, description => 'the CI' } });
is($s, 201, 'an access key made');
my $cred = $j->{credential};
like($cred->{access}, qr/^[A-Z0-9]{20}\z/, '... AK: 20 of A-Z 0-9');
like($cred->{secret}, qr/^[A-Za-z0-9]{40}\z/, '... SK: 40 letters and digits');
is($cred->{user_id}, $project, '... user_id: the project');
is($cred->{status}, 'active', '... active');
is($cred->{description}, 'the CI', '... description');
is($cred->{write}, JSON::XS::true, '... write by default');
like($cred->{create_time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\z/,
     '... create_time');
like($hd->{'x-request-id'} // '', qr/^[0-9a-f]{32}\z/, '... X-Request-Id');
my ($ak, $sk) = @$cred{qw(access secret)};

($s, $j) = iam(POST => $IAM, body => {
    credential => { user_id => $uuid, write => JSON::XS::false,
                    description => '' } });
is($s, 201, 'a read-only key (user_id as a UUID)');
is($j->{credential}{write}, JSON::XS::false, '... write false');
is($j->{credential}{description}, '', '... an empty description');
my ($rak, $rsk) = @{ $j->{credential} }{qw(access secret)};
isnt($rak, $ak, '... another AK');

# ------------------------------------------------------------ list, show

($s, $j) = iam(GET => $IAM);
is($s, 200, 'list');
is(scalar @{ $j->{credentials} }, 2, '... both keys');
is_deeply([ sort map { $_->{access} } @{ $j->{credentials} } ],
          [ sort $ak, $rak ], '... by AK');
ok(!grep({ exists $_->{secret} } @{ $j->{credentials} }),
   '... no secret in a list');
($s, $j) = iam(GET => "$IAM?user_id=$project");
is(scalar @{ $j->{credentials} }, 2, 'list ?user_id= the project');
my @r = iam(GET => "$IAM?user_id=" . ('0' x 32));
is_iotda_error(\@r, 404, 'IAM.0004', 'list ?user_id= of no project');

($s, $j) = iam(GET => "$IAM/$ak");
is($s, 200, 'show');
is($j->{credential}{access}, $ak, '... the AK');
ok(!exists $j->{credential}{secret}, '... never the secret again');
unlike($raw // '', qr/\Q$sk\E/, '...');
is_iotda_error([iam(GET => "$IAM/AAAAAAAAAAAAAAAAAAAA")], 404, 'IAM.0004',
               'an unknown AK');
is_iotda_error([iam(GET => "$IAM/not-a-key")], 404, 'IAM.0004',
               'not an AK');
is_iotda_error([iam(GET => "$IAM/$ak/more")], 404, 'IOTDA.000004',
               'below a key: no such resource');

# ------------------------------------------------------------ refusals

my @bad = (
    [ 'no credential', {} ],
    [ 'credential not an object', { credential => 'x' } ],
    [ 'no user_id', { credential => {} } ],
    [ 'user_id empty', { credential => { user_id => '' } } ],
    [ 'user_id a number', { credential => { user_id => 5 } } ],
    [ 'description of 256', { credential => { user_id => $project,
                                              description => 'd' x 256 } } ],
    [ 'description with a control character',
      { credential => { user_id => $project, description => "a\nb" } } ],
    [ 'description a number', { credential => { user_id => $project,
                                                description => 1 } } ],
    [ 'write a string', { credential => { user_id => $project,
                                          write => 'yes' } } ],
);

for my $b (@bad) {
    is_iotda_error([iam(POST => $IAM, body => $b->[1])], 400, 'IAM.0011',
                   $b->[0]);
}

is_iotda_error([iam(POST => $IAM, body => { credential => {
                    user_id => '0' x 32 } })],
               404, 'IAM.0004', 'a project of no team');
is_iotda_error([iam(POST => $IAM, body => '{"credential":')], 400,
               'IOTDA.000008', 'a body that is not JSON');
is_iotda_error([iam(PUT => $IAM, body => {})], 405, 'IOTDA.000005',
               'PUT the list');
is_iotda_error([iam(POST => "$IAM/$ak", body => {})], 405, 'IOTDA.000005',
               'POST to a key');
($s, $j) = iam(GET => $IAM);
is(scalar @{ $j->{credentials} }, 2, 'nothing refused was made');

# ------------------------------------------------------------ who may

my $full = $c->create_token({ resource => '/', write => JSON::XS::true });
is_iotda_error([iam(GET => $IAM, token => undef)], 401, 'IOTDA.000002',
               'no credentials');
is_iotda_error([iam(GET => $IAM, token => 'nonsense')], 401,
               'IOTDA.000002', 'an unknown token');
is_iotda_error([iam(GET => $IAM, token => $full->{token})], 403,
               'IAM.0003', "an API token, even one that reaches all");
is_iotda_error([iam(POST => $IAM, token => $full->{token},
                    body => { credential => { user_id => $project } })],
               403, 'IAM.0003', '... makes no key');
is_iotda_error([iam(DELETE => "$IAM/$ak", token => $full->{token})], 403,
               'IAM.0003', '... deletes none');

# ------------------------------------------------------------ signing

for my $alg ('SDK-HMAC-SHA256', 'V11-HMAC-SHA256') {
    my $w = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk,
                            algorithm => $alg);
    my $ro = IoT::Iotda->new($t, project => $project, ak => $rak,
                             sk => $rsk, algorithm => $alg);

    ($s, $j) = $w->call(GET => "/devices/$DA->{deviceId}");
    is($s, 200, "$alg: a key of the team reads a device");
    is($j->{device_name}, '', "$alg: ... without a name: device_name ''");
    ($s) = $w->call(GET => "/devices/$DB->{deviceId}");
    is($s, 200, "$alg: ... of every resource space");
    ($s, $j) = $w->call(POST => '/products', body => {
        name => 'p', device_type => 'd', protocol_type => 'UDP',
        data_format => 'json', app_id => $A->{collectionId},
        service_capabilities => [{ service_id => 's' }] });
    is($s, 201, "$alg: ... and writes");
    ($s) = $ro->call(GET => "/devices/$DA->{deviceId}");
    is($s, 200, "$alg: a read-only key reads");
    is_iotda_error([$ro->call(POST => '/products', body => {
        name => 'p', device_type => 'd', protocol_type => 'UDP',
        data_format => 'json', app_id => $A->{collectionId},
        service_capabilities => [{ service_id => 's' }] })],
        403, 'IOTDA.000022', "$alg: a read-only key cannot write");
    is_iotda_error([$w->call(GET => "/devices/$DA->{deviceId}",
                             project => 'f' x 32)],
                   403, 'IOTDA.000022', "$alg: a project not the key's");
    is_iotda_error([IoT::Iotda->new($t, project => $project, ak => $ak,
                                    sk => $rsk, algorithm => $alg)
                    ->call(GET => "/devices/$DA->{deviceId}")],
                   401, 'IOTDA.000002', "$alg: another key's secret");
    is_iotda_error([$w->call(POST => '/products', body => { name => 'x' },
                             tamper => sub { '{"name":"y"}' })],
                   401, 'IOTDA.000002', "$alg: a changed body");
    is_iotda_error([$w->call(GET => "/devices/$DA->{deviceId}",
                             date => sdk_date(time - 20 * 60))],
                   401, 'IOTDA.000002', "$alg: a stale date");
    is_iotda_error([$w->call(GET => "/devices/$DA->{deviceId}",
                             tamper => sub {
                                 delete $_[0]{'X-Project-Id'}; '' })],
                   401, 'IOTDA.000002', "$alg: a signed header dropped");
}

# the key of another team: its team is not the path's project
is_iotda_error([IoT::Iotda->new($t, project => '0' x 32, ak => $ak,
                                sk => $sk)->call(GET => '/devices')],
               403, 'IOTDA.000022', "a key on a project of another team");

# two teams: a key made for another user's team reaches that team's
# resource spaces only, and the first key none of them
{
    my ($s2, $u) = $c->call(POST => '/users', body => { name => 'Bo' });
    is($s2, 201, 'a second user, with a team of its own');
    my $C2 = $c->create_collection({ tags => { name => 'space-c' } },
                                   token => $u->{token});
    my $D2 = $c->create_device($C2->{collectionId}, undef,
                               token => $u->{token});
    my $p2 = $u->{privateTeamId};
    my ($s3, $k2) = iam(POST => $IAM,
                        body => { credential => { user_id => $p2 } });
    is($s3, 201, 'a key for the second team (its teamId as user_id)');
    my $api2 = IoT::Iotda->new($t, project => $p2,
                               ak => $k2->{credential}{access},
                               sk => $k2->{credential}{secret});
    ($s) = $api2->call(GET => "/devices/$D2->{deviceId}");
    is($s, 200, 'it reaches its team\'s device');
    is_iotda_error([$api2->call(GET => "/devices/$DA->{deviceId}")],
                   404, 'IOTDA.014000', '... not the first team\'s');
    my ($s4, $l2) = $api2->call(GET => '/devices');
    is_deeply([ map { $_->{device_id} } @{ $l2->{devices} || [] } ],
              [ $D2->{deviceId} ], '... and lists its team\'s only');
    is_iotda_error([IoT::Iotda->new($t, project => $project,
                                    ak => $k2->{credential}{access},
                                    sk => $k2->{credential}{secret})
                        ->call(GET => '/devices')],
                   403, 'IOTDA.000022', '... nor the first team\'s project');
    is_iotda_error([IoT::Iotda->new($t, project => $p2, ak => $ak,
                                    sk => $sk)->call(GET => '/devices')],
                   403, 'IOTDA.000022',
                   'the first team\'s key: not the second team\'s project');
}

# an access key never manages access keys (refused before its signature
# is read, as every request its key may not make)
{
    my ($s2, $h2, $r2) = $t->http(GET => $IAM, headers => {
        Authorization => "SDK-HMAC-SHA256 Access=$ak, "
                         . "SignedHeaders=x-sdk-date, Signature="
                         . ('0' x 64),
        'X-Sdk-Date' => sdk_date() });
    is($s2, 403, 'an access key on the credentials endpoint: 403');
    like($r2, qr/"error_code":"IAM.0003"/, '... IAM.0003');
}

# the derived keys of API tokens still work beside them
my ($dak, $dsk) = access_key($full->{token});
($s) = IoT::Iotda->new($t, project => $project, ak => $dak, sk => $dsk)
    ->call(GET => "/devices/$DA->{deviceId}");
is($s, 200, "an API token's derived key still signs");
is_iotda_error([IoT::Iotda->new($t, project => 'e' x 32, ak => $dak,
                                sk => $dsk)->call(GET => '/devices')],
               403, 'IOTDA.000022', '... not on another project');

# ------------------------------------------------------------ the SDK

SKIP: {
    my $sdk = IoT::Iotda::sdk($t, $project);
    skip 'node and t/npm/node_modules (./build.sh installs them)', 4
        unless $sdk;

    my $r = $sdk->($ak, $sk, 'GET',
                   "/v5/iot/{project_id}/devices/$DA->{deviceId}");
    is($r->{status}, 200, 'SDK core: signed with an IAM-style key')
        or diag(explain $r);
    is($r->{body}{device_id}, $DA->{deviceId}, 'SDK core: the device');
    $r = $sdk->($rak, $rsk, 'DELETE', '/v5/iot/{project_id}/products/none');
    is($r->{error_code}, 'IOTDA.000022', 'SDK core: a read-only key');
    $r = $sdk->($ak, $rsk, 'GET',
                "/v5/iot/{project_id}/devices/$DA->{deviceId}");
    is($r->{status}, 401, 'SDK core: a wrong secret');
}

# ------------------------------------------------------------ counted

my $stats = stats();
ok($stats->{refused} >= 12, '$iot_iotda_stats: the refusals counted')
    or diag(explain $stats);
is($stats->{project}, 6, '... 6 on a project not the key\'s');
ok($stats->{signature} >= 5, '... wrong secrets and changed bodies');
is($stats->{date}, 2, '... 2 stale dates');
is($stats->{header}, 2, '... 2 signed headers dropped');
is($stats->{refused}, $stats->{form} + $stats->{unknown_key}
   + $stats->{date} + $stats->{header} + $stats->{project}
   + $stats->{signature}, '... refused is their sum');
my $log = $t->read_log;
like($log, qr/\[info\].*iot iotda: signed request refused: X-Sdk-Date missing, malformed or stale \(access key "$ak"\)/,
     '... each logged at info with its access key');

# a store that cannot be read: 503, and the key works again after
SKIP: {
    skip 'chattr needs root and /usr/bin/chattr', 6
        unless $> == 0 && -x '/usr/bin/chattr';
    my @f = grep { -e } map { $t->dir . '/' . $t->{store} . $_ }
                            '', '-wal', '-shm';
    system('/usr/bin/chattr', '+i', @f) == 0 or die 'chattr failed';
    system('sync', @f);
    my $w = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk);
    my @r = $w->call(GET => "/devices/$DA->{deviceId}");
    system('/usr/bin/chattr', '-i', @f) == 0 or die 'chattr failed';
    is_iotda_error(\@r, 503, 'IOTDA.000003',
                   'a key while the store cannot be read')
        or diag($r[3]);
    ok(IoT::Test::wait_until(sub {
        ($w->call(GET => "/devices/$DA->{deviceId}"))[0] == 200 }, 15),
       '... and once it can, the key signs again');
}

# ------------------------------------------------------------ restart, delete

$t->restart;
($s) = IoT::Iotda->new($t, project => $project, ak => $ak, sk => $sk,
                       algorithm => 'V11-HMAC-SHA256')
    ->call(GET => "/devices/$DA->{deviceId}");
is($s, 200, 'after a restart: the key still signs');
($s, $j) = iam(GET => $IAM);
is(scalar @{ $j->{credentials} }, 2, '... and is listed');

($s) = iam(DELETE => "$IAM/$ak");
is($s, 204, 'a key deleted');
is_iotda_error([IoT::Iotda->new($t, project => $project, ak => $ak,
                                sk => $sk)
                ->call(GET => "/devices/$DA->{deviceId}")],
               401, 'IOTDA.000002', '... refused at once');
is_iotda_error([iam(DELETE => "$IAM/$ak")], 404, 'IAM.0004',
               '... deleted twice');
is_iotda_error([iam(GET => "$IAM/$ak")], 404, 'IAM.0004', '... not shown');
($s, $j) = iam(GET => $IAM);
is_deeply([ map { $_->{access} } @{ $j->{credentials} } ], [ $rak ],
          '... not listed');
is(stats()->{unknown_key}, 1, '... counted as an unknown key');

# secrets: never in the log, never answered again
$log = $t->read_log;
for my $secret ($sk, $rsk) {
    unlike($log, qr/\Q$secret\E/, 'no secret key in the error log');
}
my $db = $t->dir . '/' . $t->{store};
ok(-e $db, 'the store');
is((stat $db)[2] & 07777, 0600, '... is 0600: it keeps the secret keys');

$t->finish;
done_testing;
