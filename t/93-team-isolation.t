#!/usr/bin/perl
# Teams keep tenants apart in every dialect: users A and B, each with a
# collection in their own team, and a team T that A shares with C.  B
# never reaches A's collections, devices, groups or data through the
# collections, things or iotda dialects; the things dialect's clientId and
# the iotda dialect's project_id are teams (the core's one mapping); a
# request in project T reaches T's collections only.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::Iotda;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Iotda::LOCATIONS);
my $api = IoT::Collections->new($t);
my $things = IoT::Things->new($t);
$t->start;

sub user {
    my ($name) = @_;
    my ($st, $u) = $api->call(POST => '/users', body => { name => $name });
    die "POST /users: $st\n" unless $st == 201;
    return $u;
}

my $A = user('a');
my $B = user('b');
my $C = user('c');

my $ca = $api->create_collection({ tags => { name => 'a' } }, token => $A->{token});
my $cb = $api->create_collection({ tags => { name => 'b' } }, token => $B->{token});
my $da = $api->create_device($ca->{collectionId}, { tags => { name => 'da' } },
                             token => $A->{token});
my $db = $api->create_device($cb->{collectionId}, { tags => { name => 'db' } },
                             token => $B->{token});

# a team A shares with C
my (undef, $T) = $api->call(POST => '/teams', body => {}, token => $A->{token});
my (undef, $inv) = $api->call(POST => "/teams/$T->{teamId}/invites",
                              token => $A->{token});
$api->call(POST => '/teams/accept', body => { code => $inv->{code} },
           token => $C->{token});
my $ct = $api->create_collection({ teamId => $T->{teamId} },
                                 token => $C->{token});
my $dt = $api->create_device($ct->{collectionId}, {}, token => $C->{token});

# ------------------------------------------------------------ collections

{
    my $b = $B->{token};
    is_error([$api->call(GET => "/collections/$ca->{collectionId}", token => $b)],
             403, 'collections: B reads A\'s collection');
    is_error([$api->call(PATCH => "/collections/$ca->{collectionId}",
                         body => { tags => { x => 'y' } }, token => $b)],
             403, 'collections: B changes it');
    is_error([$api->call(DELETE => "/collections/$ca->{collectionId}",
                         token => $b)], 403, 'collections: B deletes it');
    is_error([$api->call(GET => "/collections/$ca->{collectionId}/devices",
                         token => $b)], 403, 'collections: B lists its devices');
    is_error([$api->call(GET => "/collections/$ca->{collectionId}/devices/"
                                . $da->{deviceId}, token => $b)],
             403, 'collections: B reads A\'s device');
    is_error([$api->call(GET => "/collections/$ca->{collectionId}/data",
                         token => $b)], 403, 'collections: B reads its data');
    is_error([$api->call(POST => "/collections/$ca->{collectionId}/devices",
                         body => { imsi => $t->next_imsi, imei => $t->next_imei },
                         token => $b)], 403, 'collections: B adds a device');
    is_error([$api->call(PATCH => "/collections/$cb->{collectionId}/devices/"
                                  . $db->{deviceId},
                         body => { collectionId => $ca->{collectionId} },
                         token => $b)], 403,
             'collections: B moves its device into A\'s collection');
    is_error([$api->call(GET => "/collections/$ct->{collectionId}", token => $b)],
             403, 'collections: B reads the shared team\'s collection');
    my (undef, $l) = $api->call(GET => '/collections', token => $b);
    is_deeply([map { $_->{collectionId} } @{ $l->{collections} }],
              [$cb->{collectionId}], 'collections: B lists only his own');
    my ($s, $g) = $api->call(GET => "/collections/$ca->{collectionId}",
                             token => $A->{token});
    is_deeply(plain($g->{tags}), { name => 'a' }, 'A\'s collection unchanged');
    ($s) = $api->call(GET => "/collections/$ct->{collectionId}",
                      token => $A->{token});
    is($s, 200, 'collections: A reads the shared collection C made');
    my (undef, $la) = $api->call(GET => '/collections', token => $A->{token});
    is(scalar @{ $la->{collections} }, 2, 'A lists her own and the shared');
}

# ------------------------------------------------------------ things

sub things_device {
    my ($token, $uuid) = @_;
    return $things->call(GET => "/devices/$uuid", token => $token);
}

# a device of the collections dialect, as the things dialect has it
sub things_of {
    my ($token, $name) = @_;
    my (undef, $l) = $things->call(GET => "/devices?q=$name", token => $token);
    my ($d) = grep { $_->{name} eq $name } @{ $l->{items} || [] };
    return $d;
}

my $tda = things_of($A->{token}, 'da');
like($tda->{id} // '', $UUID_RE, 'things: A lists her device');
my $team_a = $tda->{clientId};
like($team_a // '', $UUID_RE, 'things: its clientId is a UUID');
my $tdb = things_of($B->{token}, 'db');
my $team_b = $tdb->{clientId};
isnt($team_a, $team_b, 'things: A\'s and B\'s devices have different clients');
my (undef, $tl) = $things->call(GET => '/devices', token => $C->{token});
my ($tdt) = grep { $_->{projectId} && $_->{name} ne 'db' } @{ $tl->{items} };
my $team_t = $tdt->{clientId};
isnt($team_t, $team_a, 'things: the shared team is a client of its own');

{
    my $b = $B->{token};
    my ($s) = things_device($b, $tda->{id});
    is($s, 404, 'things: B does not find A\'s device by UUID');
    ($s) = things_device($b, "imei:$da->{imei}");
    is($s, 404, 'things: nor by its IMEI');
    my (undef, $l) = $things->call(GET => '/devices', token => $b);
    is_deeply([map { $_->{id} } @{ $l->{items} }], [$tdb->{id}],
              'things: B lists only his device');
    (undef, $l) = $things->call(GET => "/devices?clientId=$team_a", token => $b);
    is_deeply($l->{items}, [], 'things: A\'s client lists nothing for B');
    is_problem([$things->call(POST => '/devices',
                              body => { name => 'x', clientId => $team_a,
                                        projectId => $ca->{collectionId},
                                        deviceSpecificationId =>
                                            '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
                              token => $b)],
               400, 'things: B makes a device for A\'s client', qr/clientId/);
    is_problem([$things->call(POST => '/devices',
                              body => { name => 'x', clientId => $team_b,
                                        projectId => $ca->{collectionId},
                                        deviceSpecificationId =>
                                            '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
                              token => $b)],
               400, 'things: in A\'s project', qr/projectId/);
    is_problem([$things->call(PUT => "/devices/$tda->{id}",
                              body => { name => 'x', clientId => $team_b,
                                        projectId => $cb->{collectionId},
                                        deviceSpecificationId =>
                                            '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
                              token => $b)],
               404, 'things: B replaces A\'s device');
    my ($sd) = $things->call(DELETE => "/devices/$tda->{id}", token => $b);
    is($sd, 404, 'things: B deletes A\'s device');
    is_problem([$things->call(POST => '/device-groups',
                              body => { name => 'g', clientId => $team_b,
                                        projectId => $ca->{collectionId} },
                              token => $b)],
               400, 'things: B makes a group in A\'s project', qr/projectId/);

    # the client must be the project's
    is_problem([$things->call(POST => '/devices',
                              body => { name => 'x', clientId => $team_a,
                                        projectId => $ct->{collectionId},
                                        deviceSpecificationId =>
                                            '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
                              token => $A->{token})],
               400, 'things: a project of another of A\'s clients',
               qr/clientId/);
    my ($sc, $made) = $things->call(POST => '/devices',
        body => { name => 'shared', clientId => $team_t,
                  projectId => $ct->{collectionId},
                  deviceSpecificationId => '9c359e94-ace1-448c-8ac9-443a7d3d963f' },
        token => $A->{token});
    is($sc, 201, 'things: A makes a device in the shared project');
    is($made->{clientId}, $team_t, 'things: its clientId is the shared team');
    my (undef, $lt) = $things->call(GET => "/devices?clientId=$team_t",
                                    token => $A->{token});
    is_deeply([sort map { $_->{clientId} } @{ $lt->{items} }],
              [$team_t, $team_t], 'things: the clientId filter lists that team\'s');
    (undef, $lt) = $things->call(GET => "/devices?clientId=$T->{teamId}",
                                 token => $A->{token});
    is(scalar @{ $lt->{items} }, 2, 'things: clientId as a teamId too');
}

# ------------------------------------------------------------ iotda

(my $pa = $team_a) =~ s/-//g;
(my $pb = $team_b) =~ s/-//g;
(my $pt = $team_t) =~ s/-//g;
my $ia = IoT::Iotda->new($t, project => $pa);
my $ib = IoT::Iotda->new($t, project => $pb);

{
    my ($s, $j) = $ia->call(GET => "/devices/$da->{deviceId}", token => $A->{token});
    is($s, 200, 'iotda: A shows her device in her project');
    is_iotda_error([$ib->call(GET => '/devices', token => $B->{token},
                              project => $pa)],
                   403, 'IOTDA.000022', 'iotda: B in A\'s project');
    is_iotda_error([$ib->call(GET => "/devices/$da->{deviceId}",
                              token => $B->{token})],
                   404, 'IOTDA.014000', 'iotda: B shows A\'s device');
    my (undef, $l) = $ib->call(GET => '/devices', token => $B->{token});
    is_deeply([map { $_->{device_id} } @{ $l->{devices} }], [$db->{deviceId}],
              'iotda: B lists only his device');
    is($l->{page}{count}, 1, 'iotda: and counts only it');
    is_iotda_error([$ib->call(GET => '/devices',
                              query => "app_id=$ca->{collectionId}",
                              token => $B->{token})],
                   403, 'IOTDA.001000', 'iotda: A\'s resource space for B');

    # one request, one project: A in her own project does not see T's
    (undef, $l) = $ia->call(GET => '/devices', token => $A->{token});
    is_deeply([map { $_->{device_id} } @{ $l->{devices} }], [$da->{deviceId}],
              'iotda: A\'s own project lists her own team\'s devices');
    my $it = IoT::Iotda->new($t, project => $pt);
    (undef, $l) = $it->call(GET => '/devices', token => $A->{token});
    is(scalar @{ $l->{devices} }, 2, 'iotda: project T lists T\'s devices');
    ok(!grep({ $_->{device_id} eq $da->{deviceId} } @{ $l->{devices} }),
       'iotda: and not A\'s own');
    is_iotda_error([$it->call(GET => "/devices/$da->{deviceId}",
                              token => $A->{token})],
                   404, 'IOTDA.014000', 'iotda: A\'s device is not in T');
    my ($sn, $jn) = $it->call(GET => "/devices/$dt->{deviceId}",
                              token => $A->{token});
    is($sn, 200, 'iotda: a device without a name tag (C made it)');
    is($jn->{device_name}, '', 'iotda: its device_name is empty');
    my ($st) = $it->call(GET => '/devices', token => $A->{token},
                         project => $T->{teamId});
    is($st, 200, 'iotda: a project as a teamId');
    is_iotda_error([$it->call(GET => '/devices', token => $B->{token})],
                   403, 'IOTDA.000022', 'iotda: B in project T');

    # the administrator, too, acts within the project it names
    (undef, $l) = $ia->call(GET => '/devices');
    is_deeply([map { $_->{device_id} } @{ $l->{devices} }], [$da->{deviceId}],
              'iotda: the admin in A\'s project lists A\'s devices alone');
    is($l->{page}{count}, 1, 'iotda: and counts only them');
    is_iotda_error([$ia->call(GET => "/devices/$db->{deviceId}")],
                   404, 'IOTDA.014000',
                   'iotda: the admin in A\'s project: B\'s device is not there');
    is_iotda_error([$ia->call(GET => '/devices',
                              query => "app_id=$cb->{collectionId}")],
                   403, 'IOTDA.001000',
                   'iotda: the admin in A\'s project: B\'s resource space');
    my ($sd) = $ib->call(GET => "/devices/$db->{deviceId}");
    is($sd, 200, 'iotda: the admin in B\'s project shows B\'s device');

    # signed with B's access key
    my ($ak, $sk) = access_key($B->{token});
    my $sb = IoT::Iotda->new($t, project => $pa, ak => $ak, sk => $sk);
    is_iotda_error([$sb->call(GET => '/devices')], 403, 'IOTDA.000022',
                   'iotda: B\'s access key in A\'s project');
}

$t->check_log('the end');
$t->finish;
done_testing;
