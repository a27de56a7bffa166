#!/usr/bin/perl
# Teams in the collections dialect: /teams, /teams/{tid}, tags, the flow
# of nbiot-python's test_teams, a user's own team (no delete, no invites),
# collections in teams, a team with collections stays, after a restart.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;

my $t = IoT::Test->new;
my $api = IoT::Collections->new($t);
$t->start;

sub team_shape_ok {
    my ($tm, $name) = @_;
    ok(ref $tm eq 'HASH', "$name: an object") or return;
    like($tm->{teamId} // '', $ID_RE, "$name: teamId is an id");
    ok(ref $tm->{tags} eq 'HASH', "$name: tags is an object");
    ok(ref $tm->{members} eq 'ARRAY', "$name: members is a list");
}

sub contains {
    my ($list, $id) = @_;
    return scalar grep { $_->{teamId} eq $id } @$list;
}

# ---- the caller's own team is listed from the start
my ($st, $l) = $api->call(GET => '/teams');
is($st, 200, 'GET /teams is 200');
is(scalar @{ $l->{teams} }, 1, 'the admin token\'s user has its own team');
my $own = $l->{teams}[0];
team_shape_ok($own, 'own team');
my ($s0, $c0) = $api->call(POST => '/collections', body => {});
is($c0->{teamId}, $own->{teamId},
   'a collection without teamId is in the caller\'s own team');
is($own->{members}[0]{role}, 'Admin', 'the user is its own team\'s Admin');

# ---- nbiot-python test_teams, step by step
my ($s1, $team, $h1) = $api->call(POST => '/teams', body => {});
is($s1, 201, 'POST /teams is 201');
team_shape_ok($team, 'new team');
isnt($team->{teamId}, $own->{teamId}, 'a team of its own id');
is(scalar @{ $team->{members} }, 1, 'the creator is its one member');
is($team->{members}[0]{role}, 'Admin', 'the creator is Admin');
for my $k (qw(userId teamId role name email phone verifiedEmail
              verifiedPhone connectId gitHubLogin authType avatarUrl))
{
    ok(exists $team->{members}[0]{$k}, "a member has $k");
}
my $tid = $team->{teamId};

($st, $l) = $api->call(GET => '/teams');
ok(contains($l->{teams}, $tid), 'the list contains the new team');

{
    my %b = %$team;
    $b{tags} = { test_key => 'test_value' };
    my ($s, $u) = $api->call(PATCH => "/teams/$tid", body => \%b);
    is($s, 200, 'PATCH /teams/{tid} is 200');
    is($u->{tags}{test_key}, 'test_value', 'the tag is set');
    is(scalar @{ $u->{members} }, 1, 'members in the body are ignored');
}

{
    my ($s, $iv) = $api->call(GET => "/teams/$tid/invites");
    is($s, 200, 'GET invites is 200');
    is_deeply(plain($iv), { invites => [] }, 'no invites yet: []');
}

my ($s2, $inv) = $api->call(POST => "/teams/$tid/invites");
is($s2, 201, 'POST invites without a body is 201');
like($inv->{code} // '', qr/^[0-9a-f]{32}\z/, 'the code is 32 hex digits');
ok(defined $inv->{createdAt} && $inv->{createdAt} =~ /^\d+\z/
   && $inv->{createdAt} > 1_600_000_000_000, 'createdAt in ms');

{
    my ($s, $iv) = $api->call(GET => "/teams/$tid/invites");
    is(scalar @{ $iv->{invites} }, 1, 'one invite listed');
    is_deeply(plain($iv->{invites}[0]), plain($inv),
              'the listed invite is the one made');
    my ($sg, $one) = $api->call(GET => "/teams/$tid/invites/$inv->{code}");
    is($sg, 200, 'GET the invite');
    is_deeply(plain($one), plain($inv), 'as made');
}

is_error([$api->call(POST => '/teams/accept', body => { code => $inv->{code} })],
         409, 'accepting an invite to a team one is in', qr/member/i);

{
    my ($s) = $api->call(DELETE => "/teams/$tid/invites/$inv->{code}");
    is($s, 204, 'DELETE the invite is 204');
    is_error([$api->call(GET => "/teams/$tid/invites/$inv->{code}")], 404,
             'the deleted invite', qr/invite/);
    is_error([$api->call(DELETE => "/teams/$tid/invites/$inv->{code}")], 404,
             'deleting it again', qr/invite/);
    is_error([$api->call(POST => '/teams/accept',
                         body => { code => $inv->{code} })],
             404, 'accepting a deleted invite', qr/invite/);
}

{
    my ($s) = $api->call(DELETE => "/teams/$tid");
    is($s, 204, 'DELETE /teams/{tid} is 204');
    ($st, $l) = $api->call(GET => '/teams');
    ok(!contains($l->{teams}, $tid), 'the list no longer contains it');
    is_error([$api->call(GET => "/teams/$tid")], 404, 'the deleted team',
             qr/team/);
}

# ---- tags sub-resource
my (undef, $t2) = $api->call(POST => '/teams',
                             body => { tags => { name => 'Lab' } });
my $tid2 = $t2->{teamId};
is_deeply(plain($t2->{tags}), { name => 'Lab' }, 'tags on create');
{
    my ($s, $tg) = $api->call(GET => "/teams/$tid2/tags");
    is($s, 200, 'GET tags');
    is_deeply(plain($tg), { name => 'Lab' }, 'the tags object');
    ($s, $tg) = $api->call(PATCH => "/teams/$tid2/tags",
                           body => { floor => '3', name => '' });
    is($s, 200, 'PATCH tags');
    is_deeply(plain($tg), { floor => '3' }, 'merged, "" removed');
    ($s, $tg) = $api->call(GET => "/teams/$tid2/tags/floor");
    is_deeply(plain($tg), { value => '3' }, 'GET one tag');
    ($s, $tg) = $api->call(PATCH => "/teams/$tid2/tags/room",
                           body => { value => 'B12' });
    is($s, 200, 'PATCH one tag');
    is_deeply(plain($tg), { value => 'B12' }, 'its value');
    ($s) = $api->call(DELETE => "/teams/$tid2/tags/room");
    is($s, 204, 'DELETE one tag');
    is_error([$api->call(GET => "/teams/$tid2/tags/room")], 404,
             'the deleted tag', qr/tag/);
    is_error([$api->call(DELETE => "/teams/$tid2/tags/room")], 404,
             'deleting it again', qr/tag/);
    is_error([$api->call(PATCH => "/teams/$tid2/tags", body => { a => 5 })],
             400, 'a tag that is not a string', qr/tag|string/i);
    is_error([$api->call(PATCH => "/teams/$tid2",
                         body => { tags => [1] })],
             400, 'tags that are not an object', qr/tags/);
    my (undef, $g) = $api->call(GET => "/teams/$tid2");
    is_deeply(plain($g->{tags}), { floor => '3' }, 'refused changes changed nothing');
}

# ---- a user's own team
is_error([$api->call(DELETE => "/teams/$own->{teamId}")], 403,
         'deleting one\'s own team', qr/own team/);
is_error([$api->call(POST => "/teams/$own->{teamId}/invites")], 403,
         'inviting to one\'s own team', qr/invite/);

# ---- collections belong to teams
{
    my ($s, $c) = $api->call(POST => '/collections',
                             body => { teamId => $tid2 });
    is($s, 201, 'a collection in another team of the caller');
    is($c->{teamId}, $tid2, 'its teamId');
    is_error([$api->call(DELETE => "/teams/$tid2")], 409,
             'a team with collections stays', qr/collection/);
    my ($sm, $m) = $api->call(PATCH => "/collections/$c->{collectionId}",
                              body => { teamId => $own->{teamId} });
    is($sm, 200, 'a collection moves to another team of the caller');
    is($m->{teamId}, $own->{teamId}, 'its new teamId');
    my ($sg, $g) = $api->call(GET => "/collections/$c->{collectionId}");
    is($g->{teamId}, $own->{teamId}, 'kept');
    my ($sd) = $api->call(DELETE => "/teams/$tid2");
    is($sd, 204, 'now the team can go');
    is_error([$api->call(POST => '/collections', body => { teamId => $tid2 })],
             400, 'a collection in a deleted team', qr/teamId/);
}

# ---- bad input
is_error([$api->call(GET => '/teams/nope')], 404, 'a malformed team id',
         qr/team/);
is_error([$api->call(GET => '/teams/0000000000000')], 404, 'an unknown team',
         qr/team/);
is_error([$api->call(PUT => '/teams')], 405, 'PUT /teams');
is_error([$api->call(POST => '/teams/accept', body => {})], 400,
         'accept without a code', qr/code/);
is_error([$api->call(POST => '/teams/accept', body => { code => 'x' })], 404,
         'accept with a malformed code', qr/invite/);
is_error([$api->call(POST => '/teams', body => { tags => 'x' })], 400,
         'POST /teams with bad tags', qr/tags/);

# ---- durable
my (undef, $t3) = $api->call(POST => '/teams', body => { tags => { k => 'v' } });
my (undef, $i3) = $api->call(POST => "/teams/$t3->{teamId}/invites", body => {});
$t->restart;
{
    my ($s, $g) = $api->call(GET => "/teams/$t3->{teamId}");
    is($s, 200, 'a team after a restart');
    is_deeply(plain($g->{tags}), { k => 'v' }, 'with its tags');
    my (undef, $iv) = $api->call(GET => "/teams/$t3->{teamId}/invites");
    is_deeply(plain($iv->{invites}), [plain($i3)], 'and its invite');
    my (undef, $c) = $api->call(GET => "/collections/$c0->{collectionId}");
    is($c->{teamId}, $own->{teamId}, 'a collection keeps its team');
}

$t->check_log('the end');
$t->finish;
done_testing;
