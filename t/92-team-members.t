#!/usr/bin/perl
# Team members and invites between users: an Admin invites, another user
# accepts (joins as Member, the invite is gone), a member reaches the
# team's collections, only Admins change the team, its members and its
# invites, nobody changes their own membership (403), accepting again is
# 409, a removed member reaches nothing of the team any more.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use IoT::WebSocket;

my $t = IoT::Test->new;
my $api = IoT::Collections->new($t);
$t->start;

sub user {
    my ($name) = @_;
    my ($st, $u) = $api->call(POST => '/users', body => { name => $name });
    die "POST /users: $st\n" unless $st == 201;
    return $u;
}

my $alice = user('alice');
my $bob = user('bob');
my ($ta, $tb) = ($alice->{token}, $bob->{token});

my (undef, $team) = $api->call(POST => '/teams', body => { tags => { n => 'x' } },
                               token => $ta);
my $tid = $team->{teamId};
my $coll = $api->create_collection({ teamId => $tid }, token => $ta);
my $cid = $coll->{collectionId};
my $dev = $api->create_device($cid, {}, token => $ta);

# ---- bob is not a member: the team and its collections do not exist for him
is_error([$api->call(GET => "/teams/$tid", token => $tb)], 404,
         'a team one is not a member of', qr/team/);
is_error([$api->call(GET => "/teams/$tid/members", token => $tb)], 404,
         'its members', qr/team/);
is_error([$api->call(PATCH => "/teams/$tid", body => { tags => { a => 'b' } },
                     token => $tb)], 404, 'changing it', qr/team/);
is_error([$api->call(GET => "/collections/$cid", token => $tb)], 403,
         'its collection');
is_error([$api->call(GET => "/collections/$cid/devices/$dev->{deviceId}",
                     token => $tb)], 403, 'its device');

# ---- alice invites, bob accepts
my ($si, $inv) = $api->call(POST => "/teams/$tid/invites", body => {},
                            token => $ta);
is($si, 201, 'the Admin makes an invite');
my ($sa, $joined) = $api->call(POST => '/teams/accept',
                               body => { code => $inv->{code} }, token => $tb);
is($sa, 200, 'bob accepts');
is($joined->{teamId}, $tid, 'the answer is the team');
my ($bm) = grep { $_->{userId} eq $bob->{userId} } @{ $joined->{members} };
ok($bm, 'bob is a member');
is($bm->{role}, 'Member', 'as Member');
is(scalar @{ $joined->{members} }, 2, 'two members');
{
    my (undef, $l) = $api->call(GET => "/teams/$tid/invites", token => $ta);
    is_deeply(plain($l->{invites}), [], 'the accepted invite is gone');
    is_error([$api->call(POST => '/teams/accept',
                         body => { code => $inv->{code} }, token => $tb)],
             404, 'accepting it again', qr/invite/);
}

# ---- a member reaches the team's collections
{
    my ($s, $c) = $api->call(GET => "/collections/$cid", token => $tb);
    is($s, 200, 'a member reads the team\'s collection');
    my (undef, $l) = $api->call(GET => '/collections', token => $tb);
    ok(grep({ $_->{collectionId} eq $cid } @{ $l->{collections} }),
       'and lists it');
    my ($sd) = $api->call(GET => "/collections/$cid/devices/$dev->{deviceId}",
                          token => $tb);
    is($sd, 200, 'and its devices');
    my $d2 = $api->create_device($cid, {}, token => $tb);
    ok($d2->{deviceId}, 'and makes devices in it');
    my ($st) = $api->call(GET => "/teams/$tid", token => $tb);
    is($st, 200, 'GET the team as a member');
    my (undef, $m) = $api->call(GET => "/teams/$tid/members", token => $tb);
    is(scalar @{ $m->{members} }, 2, 'and its members');
    my (undef, $one) = $api->call(GET => "/teams/$tid/members/$bob->{userId}",
                                  token => $tb);
    is($one->{userId}, $bob->{userId}, 'and one member');
    is($one->{role}, 'Member', 'with its role');
}

# ---- a token narrower than the user reaches only what its resource says
{
    my $narrow = $api->create_token({ resource => "/collections/$cid/devices/x",
                                      write => JFALSE }, token => $tb);
    is_error([$api->call(GET => "/collections/$cid", token => $narrow->{token})],
             403, 'a token\'s resource narrows its user\'s reach');
    is_error([$api->call(GET => "/teams/$tid", token => $narrow->{token})],
             403, 'and keeps it out of /teams');
}

# ---- only Admins change the team, its members and its invites
is_error([$api->call(PATCH => "/teams/$tid", body => { tags => { a => 'b' } },
                     token => $tb)], 403, 'a Member changes the team', qr/Admin/);
is_error([$api->call(PATCH => "/teams/$tid/tags", body => { a => 'b' },
                     token => $tb)], 403, 'a Member changes its tags', qr/Admin/);
is_error([$api->call(DELETE => "/teams/$tid", token => $tb)], 403,
         'a Member deletes the team', qr/Admin/);
is_error([$api->call(GET => "/teams/$tid/invites", token => $tb)], 403,
         'a Member lists invites', qr/Admin/);
is_error([$api->call(POST => "/teams/$tid/invites", token => $tb)], 403,
         'a Member invites', qr/Admin/);
is_error([$api->call(PATCH => "/teams/$tid/members/$alice->{userId}",
                     body => { role => 'Member' }, token => $tb)],
         403, 'a Member changes another\'s role', qr/Admin/);
is_error([$api->call(DELETE => "/teams/$tid/members/$alice->{userId}",
                     token => $tb)], 403, 'a Member removes another', qr/Admin/);
is_error([$api->call(PATCH => "/teams/$tid/members/$bob->{userId}",
                     body => { role => 'Admin' }, token => $tb)],
         403, 'a Member makes itself Admin');
{
    my (undef, $g) = $api->call(GET => "/teams/$tid", token => $ta);
    is_deeply(plain($g->{tags}), { n => 'x' }, 'refused changes changed nothing');
    is(scalar @{ $g->{members} }, 2, 'nobody left');
}

# ---- nobody changes their own membership
is_error([$api->call(PATCH => "/teams/$tid/members/$alice->{userId}",
                     body => { role => 'Member' }, token => $ta)],
         403, 'an Admin changes its own role', qr/own membership/);
is_error([$api->call(DELETE => "/teams/$tid/members/$alice->{userId}",
                     token => $ta)], 403, 'an Admin removes itself',
         qr/own membership/);

# ---- an Admin changes roles
{
    my ($s, $m) = $api->call(PATCH => "/teams/$tid/members/$bob->{userId}",
                             body => { role => 'Admin' }, token => $ta);
    is($s, 200, 'an Admin makes bob Admin');
    is($m->{role}, 'Admin', 'the answer says so');
    my ($s2) = $api->call(PATCH => "/teams/$tid", body => { tags => { by => 'bob' } },
                          token => $tb);
    is($s2, 200, 'now bob changes the team');
    is_error([$api->call(PATCH => "/teams/$tid/members/$bob->{userId}",
                         body => { role => 'Boss' }, token => $ta)],
             400, 'an unknown role', qr/role/);
    ($s) = $api->call(PATCH => "/teams/$tid/members/$bob->{userId}",
                      body => { role => 'Member' }, token => $ta);
    is($s, 200, 'and Member again');
    is_error([$api->call(PATCH => "/teams/$tid", body => { tags => { a => 'b' } },
                         token => $tb)], 403, 'then he may not');
    is_error([$api->call(PATCH => "/teams/$tid/members/0000000000000",
                         body => { role => 'Admin' }, token => $ta)],
             404, 'a member that is not', qr/member/);
}

# ---- invites of another team cannot be seen or deleted through this one
{
    my (undef, $other) = $api->call(POST => '/teams', body => {}, token => $tb);
    my (undef, $oi) = $api->call(POST => "/teams/$other->{teamId}/invites",
                                 token => $tb);
    my (undef, $mine) = $api->call(POST => "/teams/$tid/invites", token => $ta);
    is_error([$api->call(GET => "/teams/$tid/invites/$oi->{code}", token => $ta)],
             404, 'another team\'s invite by this team\'s path', qr/invite/);
    is_error([$api->call(DELETE => "/teams/$tid/invites/$oi->{code}",
                         token => $ta)], 404, 'nor deleted', qr/invite/);
    my (undef, $l) = $api->call(GET => "/teams/$other->{teamId}/invites",
                                token => $tb);
    is(scalar @{ $l->{invites} }, 1, 'it is still there');
    $api->call(DELETE => "/teams/$tid/invites/$mine->{code}", token => $ta);
    $api->call(DELETE => "/teams/$other->{teamId}/invites/$oi->{code}",
               token => $tb);
    my ($sd) = $api->call(DELETE => "/teams/$other->{teamId}", token => $tb);
    is($sd, 204, 'bob deletes his team');
}

# ---- a collection moved out of the team: the member's streams of it close
{
    my $c2 = $api->create_collection({ teamId => $tid }, token => $ta);
    my $ws = IoT::WebSocket->connect(port => $t->port,
                                     path => "/collections/$c2->{collectionId}/from",
                                     token => $tb);
    is($ws->{status}, 101, 'bob streams another collection of the team');
    my ($s) = $api->call(PATCH => "/collections/$c2->{collectionId}",
                         body => { teamId => $alice->{privateTeamId} },
                         token => $ta);
    is($s, 200, 'alice moves it to her own team');
    my $c = $ws->wait_close;
    is($c && $c->{code}, 1008, 'bob\'s stream of it closes with 1008');
    $ws->send_close(1008);
    is_error([$api->call(GET => "/collections/$c2->{collectionId}", token => $tb)],
             403, 'bob no longer reaches it');
}

# ---- an Admin removes a member: he reaches nothing of it any more
{
    my $ws = IoT::WebSocket->connect(port => $t->port,
                                     path => "/collections/$cid/from",
                                     token => $tb);
    is($ws->{status}, 101, 'bob streams the team\'s collection');
    my $mine = $api->create_collection({}, token => $tb);
    my $ws2 = IoT::WebSocket->connect(port => $t->port,
                                      path => "/collections/$mine->{collectionId}/from",
                                      token => $tb);
    is($ws2->{status}, 101, 'and one of his own');

    my ($s) = $api->call(DELETE => "/teams/$tid/members/$bob->{userId}",
                         token => $ta);
    is($s, 204, 'an Admin removes bob');
    my $c = $ws->wait_close;
    ok($c, 'his stream of the team\'s collection is closed');
    is($c && $c->{code}, 1008, 'with 1008');
    $ws->send_close(1008);
    $ws2->send_frame(opcode => 9, payload => 'still');
    my $f = $ws2->recv_frame;
    ok($f && $f->{opcode} == 10, 'his own stream goes on');
    $ws2->close;
    is_error([$api->call(GET => "/collections/$cid", token => $tb)], 403,
             'bob no longer reaches the collection');
    is_error([$api->call(GET => "/teams/$tid", token => $tb)], 404,
             'nor the team', qr/team/);
    my (undef, $l) = $api->call(GET => '/collections', token => $tb);
    ok(!grep({ $_->{collectionId} eq $cid } @{ $l->{collections} }),
       'nor lists it');
    is_error([$api->call(DELETE => "/teams/$tid/members/$bob->{userId}",
                         token => $ta)], 404, 'removing him again', qr/member/);
}

# ---- after a restart
$t->restart;
{
    my (undef, $g) = $api->call(GET => "/teams/$tid", token => $ta);
    is(scalar @{ $g->{members} }, 1, 'the membership stays removed');
    is_error([$api->call(GET => "/collections/$cid", token => $tb)], 403,
             'and bob out');
}

$t->check_log('the end');
$t->finish;
done_testing;
