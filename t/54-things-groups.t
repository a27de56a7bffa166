#!/usr/bin/perl
# The things dialect's device groups: create with the field rules, get,
# PUT (a full update, the project stays), DELETE; lists with filters and
# pages; membership (add by any device id form, remove, the link from both
# sides with its own createdAt); a group takes only devices of its
# project; a device that moves leaves its groups, one deleted leaves them
# too, a deleted group lets its devices go, a collection with groups is
# not deleted; problem details for bad input
# with nothing stored; one project's token never reaching another's
# groups; all of it after a restart.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $A = $col->create_collection;
my $B = $col->create_collection;
$api->{client_id} = $A->{teamId};
my ($aid, $bid) = ($A->{collectionId}, $B->{collectionId});
my $CLIENT = ($api->create_device($aid, { name => 'seed' }))->{clientId};

sub group_body {
    my ($project, $over) = @_;
    return { name => 'group', clientId => $CLIENT, projectId => $project,
             %{ $over || {} } };
}

sub make_group {
    my ($project, $over, %o) = @_;
    my ($s, $j, undef, $raw) = $api->call(POST => '/device-groups',
        body => group_body($project, $over), %o);
    die "POST /device-groups: $s $raw\n" unless $s == 201;
    return $j;
}

sub ids {
    my ($path, %o) = @_;
    my (@ids, $n);
    my $next = $path =~ /\?/ ? $path : "$path?";
    my ($base) = $path =~ /^([^?]*)/;
    while (defined $next) {
        my ($s, $l, undef, $r) = $api->call(GET => $next =~ /^\?/
                                            ? "$base$next" : $next, %o);
        return "status $s: $r" unless $s == 200;
        push @ids, map { $_->{deviceGroupId} // $_->{id} } @{ $l->{items} };
        $next = $l->{next};
        return 'too many pages' if ++$n > 200;
    }
    return \@ids;
}

# ---- create, get

my ($st, $G, $h) = $api->call(POST => '/device-groups', body => group_body(
    $aid, { name => 'sensors', description => 'all sensors',
            id => '36e75427-4c6e-438c-89b5-0cbdb0d4068c', createdBy => 'x' }));
is($st, 201, 'POST /device-groups is 201');
is_deeply([ sort keys %$G ],
          [ sort qw(id name description clientId projectId createdAt createdBy
                    modifiedAt modifiedBy) ], 'every field of a group');
like($G->{id}, $UUID_RE, 'id is a UUID');
isnt($G->{id}, '36e75427-4c6e-438c-89b5-0cbdb0d4068c', 'a given id is ignored');
like($G->{projectId}, $UUID_RE, 'projectId as a UUID');
is($G->{clientId}, $CLIENT, 'clientId');
like($G->{createdAt}, $TIME_RE, 'createdAt');
like($G->{createdBy}, $PRINCIPAL_RE, 'createdBy');
is_deeply(($api->call(GET => "/device-groups/$G->{id}"))[1], $G, 'GET it');
is_deeply(($api->call(GET => '/device-groups/' . uc $G->{id}))[1], $G,
          'GET it in upper case');
my $PA = $G->{projectId};
my $G2 = make_group($PA, { name => 'second' });
ok(!exists $G2->{description}, 'no description when none is given');

# ---- bad input

my $count = sub { my $l = ids('/device-groups?limit=1000'); ref $l ? scalar @$l : -1 };
my $before = $count->();
for my $b (
    [ 'no name',            { name => undef },            qr/name/ ],
    [ 'blank name',         { name => '  ' },             qr/name/ ],
    [ 'name of 256',        { name => 'x' x 256 },        qr/name/ ],
    [ 'blank description',  { description => ' ' },       qr/description/ ],
    [ 'description of 256', { description => 'x' x 256 }, qr/description/ ],
    [ 'no clientId',        { clientId => undef },        qr/clientId/ ],
    [ 'another clientId',   { clientId => '7098dc22-fed5-4d9e-8e68-6c6f853eac0c' },
      qr/clientId/ ],
    [ 'no projectId',       { projectId => undef },       qr/projectId/ ],
    [ 'unknown projectId',  { projectId => 'b6a883a8-41f9-428e-a8a1-4597de54fec6' },
      qr/projectId/ ],
)
{
    my $body = group_body($aid, $b->[1]);
    delete $body->{$_} for grep { !defined $b->[1]{$_} } keys %{ $b->[1] };
    is_problem([ $api->call(POST => '/device-groups', body => $body) ], 400,
               "POST: $b->[0]", $b->[2]);
}
is_problem([ $api->call(POST => '/device-groups', body => '[]') ], 400,
           'POST: not an object');
is($count->(), $before, 'no bad request stored a group');
is_problem([ $api->call(GET => '/device-groups/nope') ], 400, 'not a UUID');
is_problem([ $api->call(GET => '/device-groups/b6a883a8-41f9-428e-a8a1-4597de54fec6') ],
           404, 'no such group');

# ---- PUT

($st, my $P) = $api->call(PUT => "/device-groups/$G->{id}",
                          body => group_body($PA, { name => 'renamed' }));
is($st, 200, 'PUT is 200');
is($P->{name}, 'renamed', 'name changed');
ok(!exists $P->{description}, 'description left out: cleared');
is($P->{createdAt}, $G->{createdAt}, 'createdAt kept');
is_problem([ $api->call(PUT => "/device-groups/$G->{id}",
                        body => group_body($bid)) ], 400,
           'PUT to another project', qr/project/);
is_problem([ $api->call(PUT => "/device-groups/$G->{id}",
                        body => group_body($PA, { name => '' })) ], 400,
           'PUT with an empty name');
is_deeply(($api->call(GET => "/device-groups/$G->{id}"))[1], $P,
          'as the good PUT left it');

# ---- membership

my $D1 = $api->create_device($PA, { name => 'd1' });
my $C2 = $col->create_device($aid, { tags => { name => 'd2' } });
my $D2 = ($api->call(GET => "/devices/imei:$C2->{imei}"))[1];
my $DB = $api->create_device($bid, { name => 'of B' });
my $url = "/device-groups/$G->{id}/devices";

($st, my $L1) = $api->call(POST => $url, body => { deviceId => $D1->{id} });
is($st, 201, 'a device joins the group');
is_deeply([ sort keys %$L1 ], [ sort qw(deviceId deviceGroupId createdAt createdBy) ],
          'the link');
is($L1->{deviceId}, $D1->{id}, 'deviceId');
is($L1->{deviceGroupId}, $G->{id}, 'deviceGroupId');
like($L1->{createdAt}, $TIME_RE, 'its own createdAt');
($st) = $api->call(POST => $url, body => { deviceId => "urn:dev:imei:$C2->{imei}" });
is($st, 201, 'a device joins by its IMEI URN');
($st) = $api->call(POST => "/device-groups/$G2->{id}/devices",
                   body => { deviceId => $D1->{id} });
is($st, 201, 'a device in two groups of its project');

is_problem([ $api->call(POST => $url, body => { deviceId => $D1->{id} }) ], 409,
           'the same device again', qr/already/);
is_problem([ $api->call(POST => $url, body => { deviceId => $DB->{id} }) ], 400,
           'a device of another project', qr/project/);
is_problem([ $api->call(POST => $url, body => { deviceId => 'imei:999999999999999' }) ],
           404, 'no such device');
is_problem([ $api->call(POST => $url, body => { deviceId => 'garbage' }) ], 400,
           'not a device id');
is_problem([ $api->call(POST => $url, body => {}) ], 400, 'no deviceId',
           qr/deviceId/);

is_deeply([ sort @{ ids($url) } ], [ sort $D1->{id}, $D2->{id} ],
          'the group\'s devices');
{
    my ($s, $l) = $api->call(GET => $url);
    is($l->{items}[0]{name} =~ /^d[12]\z/ ? 1 : 0, 1, 'as devices');
}
is_deeply([ sort @{ ids("/devices/$D1->{id}/device-groups") } ],
          [ sort $G->{id}, $G2->{id} ], 'the device\'s groups');
is_deeply(ids("/devices/$D1->{id}/device-groups?limit=1"),
          ids("/devices/$D1->{id}/device-groups"), 'in pages of 1');
is_deeply(ids("/devices/$D1->{id}/device-groups?createdSince=2999-01-01T00:00:00Z"),
          [], 'createdSince the future: none');
is_problem([ $api->call(GET => "/devices/$D1->{id}/device-groups?createdSince=x") ],
           400, 'a bad createdSince');
is_deeply(($api->call(GET => "/devices/$D1->{id}/device-groups/$G->{id}"))[1],
          $L1, 'the link, from the device');
is_deeply(($api->call(GET => "$url/$D1->{id}"))[1], $L1,
          'the link, from the group');
is_problem([ $api->call(GET => "/devices/$DB->{id}/device-groups/$G->{id}") ],
           404, 'no link');

# leaving
is(($api->call(DELETE => "$url/imei:$C2->{imei}"))[0], 204, 'a device leaves');
is_problem([ $api->call(DELETE => "$url/imei:$C2->{imei}") ], 404,
           'it is not in the group any more');
is_deeply(ids($url), [ $D1->{id} ], 'one device left');

# a device that moves leaves its groups
($st) = $api->call(POST => $url, body => { deviceId => $D2->{id} });
is($st, 201, 'it joins again');
($st) = $col->call(PATCH => "/collections/$aid/devices/$C2->{deviceId}",
                   body => { collectionId => $bid });
is($st, 200, 'moved to B in the collections dialect');
is_deeply(ids($url), [ $D1->{id} ], 'it left the group');
is_deeply(ids("/devices/$D2->{id}/device-groups"), [], 'and has no group');

# a deleted device leaves its groups
my $D3 = $api->create_device($PA, { name => 'd3' });
$api->call(POST => $url, body => { deviceId => $D3->{id} });
is(($api->call(DELETE => "/devices/$D3->{id}"))[0], 204, 'a member deleted');
is_deeply(ids($url), [ $D1->{id} ], 'gone from the group');

# ---- lists

my $G3 = make_group($PA, { name => 'Alpha Beacons', description => 'x' });
my $GB = make_group($bid, { name => 'of B', description => 'ALPHA too' });
is_deeply([ sort @{ ids('/device-groups?q=alpha') } ],
          [ sort $G3->{id}, $GB->{id} ], 'q: name or description, any case');
is_deeply(ids("/device-groups?projectId=$PA&q=alpha"), [ $G3->{id} ],
          'projectId');
is_deeply(ids("/device-groups?projectId=$aid&q=alpha"), [ $G3->{id} ],
          'projectId as a collection id');
is_deeply(ids('/device-groups?projectId=b6a883a8-41f9-428e-a8a1-4597de54fec6'), [],
          'an unknown project has none');
is_deeply(ids('/device-groups?clientId=7098dc22-fed5-4d9e-8e68-6c6f853eac0c'), [],
          'another client has none');
my $all = ids('/device-groups?limit=1000');
is_deeply(ids('/device-groups?limit=1'), $all, 'pages of 1: the same');
is_deeply(ids('/device-groups?createdSince=2999-01-01T00:00:00Z'), [],
          'createdSince the future');
for my $q ('limit=0', 'cursor=x', 'q=', 'modifiedBefore=z', 'sort=title',
           'sort=-createdAt,createdAt') {
    is_problem([ $api->call(GET => "/device-groups?$q") ], 400, "?$q");
}

# ---- scopes

my $ta = $col->create_token({ resource => "/collections/$aid", write => JTRUE })->{token};
my $ro = $col->create_token({ resource => '/' })->{token};
is_problem([ $api->call(GET => "/device-groups/$GB->{id}", token => $ta) ], 404,
           'A\'s token: B\'s group does not exist');
is_problem([ $api->call(PUT => "/device-groups/$GB->{id}", token => $ta,
                        body => group_body($bid)) ], 404,
           'nor can it be changed');
is_problem([ $api->call(DELETE => "/device-groups/$GB->{id}", token => $ta) ], 404,
           'nor deleted');
is_problem([ $api->call(POST => "/device-groups/$GB->{id}/devices", token => $ta,
                        body => { deviceId => $DB->{id} }) ], 404,
           'nor joined');
is_problem([ $api->call(POST => '/device-groups', token => $ta,
                        body => group_body($bid)) ], 400,
           'A\'s token cannot make a group in B', qr/projectId/);
is_problem([ $api->call(POST => $url, token => $ta,
                        body => { deviceId => $DB->{id} }) ], 404,
           'B\'s device is no device for A\'s token');
{
    my $l = ids('/device-groups?limit=1000', token => $ta);
    ok(ref $l && @$l && !(grep { $_ eq $GB->{id} } @$l), 'A\'s token lists A\'s only');
}
is_problem([ $api->call(POST => '/device-groups', token => $ro,
                        body => group_body($aid)) ], 403, 'read-only: no group');
is_problem([ $api->call(POST => $url, token => $ro,
                        body => { deviceId => $D1->{id} }) ], 403,
           'read-only: no joining');
is(($api->call(GET => $url, token => $ro))[0], 200, 'read-only reads');

# ---- a restart keeps them

my %keep = (groups => ids('/device-groups?limit=1000'), members => ids($url),
            links => ids("/devices/$D1->{id}/device-groups"),
            group => ($api->call(GET => "/device-groups/$G->{id}"))[1]);
$t->restart;
is_deeply({ groups => ids('/device-groups?limit=1000'), members => ids($url),
            links => ids("/devices/$D1->{id}/device-groups"),
            group => ($api->call(GET => "/device-groups/$G->{id}"))[1] },
          \%keep, 'after a restart: groups, members and links as they were');

# ---- a deleted group lets its devices go

is(($api->call(DELETE => "/device-groups/$G->{id}"))[0], 204, 'DELETE a group');
is_problem([ $api->call(GET => "/device-groups/$G->{id}") ], 404, 'gone');
is_deeply(ids("/devices/$D1->{id}/device-groups"), [ $G2->{id} ],
          'its device is in its other group only');
is(($api->call(GET => "/devices/$D1->{id}"))[0], 200, 'the device stays');
$t->restart;
is_deeply(ids("/devices/$D1->{id}/device-groups"), [ $G2->{id} ],
          'after a restart too');

# ---- a collection with groups stays until they are gone

{
    my $E = $col->create_collection;
    my $GE = make_group($E->{collectionId}, { name => 'lone' });
    is_error([ $col->call(DELETE => "/collections/$E->{collectionId}") ], 409,
             'a collection with a group is not deleted', qr/group/);
    $t->restart;
    is_error([ $col->call(DELETE => "/collections/$E->{collectionId}") ], 409,
             'nor after a restart');
    is(($api->call(DELETE => "/device-groups/$GE->{id}"))[0], 204,
       'its group deleted');
    is(($col->call(DELETE => "/collections/$E->{collectionId}"))[0], 204,
       'then the collection goes');
}

$t->finish;
done_testing;
