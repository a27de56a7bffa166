#!/usr/bin/perl
# A store from before users and teams (schema 7): its team becomes the
# own team of a first user, made at start; its collections stay in that
# team, its tokens belong to that user and reach what they reached, the
# admin token acts for it.  The migration runs again without harm (t/33
# sets user_version back and runs the later migrations again).

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


sub sql { $t->sql(@_) }

my $c1 = $api->create_collection({ tags => { name => 'old' } });
my $cid = $c1->{collectionId};
my $d1 = $api->create_device($cid);
my $all = $api->create_token({ resource => '/', write => JTRUE });
my $one = $api->create_token({ resource => "/collections/$cid", write => JFALSE });
$t->stop;

# back to schema 7: no users, no memberships, no invites, tokens of nobody
is(sql('PRAGMA user_version') >= 8, 1, 'the store is at schema 8 or later');
sql('DROP TRIGGER token_users_gone; DROP TABLE token_users;'
    . ' DROP TABLE invites; DROP TABLE team_members; DROP TABLE users;'
    . ' DROP TABLE installation;'
    . ' PRAGMA user_version = 7');
is(sql("SELECT count(*) FROM sqlite_master WHERE name = 'users'"), 0,
   'a store of schema 7');

$t->start;

is(sql('SELECT count(*) FROM users'), 1, 'one user made at start');
is(sql('SELECT u.team_id = t.id FROM users u, teams t'), 1,
   'the installation\'s team is its own team');
is(sql('SELECT role FROM team_members'), 1, 'it is the team\'s Admin');

my ($st, $me) = $api->call(GET => '/profile');
is($st, 200, 'the admin token acts for it');
is($me->{privateTeamId}, $c1->{teamId},
   'its own team is the one the collections were in');

for my $tok ([$all, 'a token of /'], [$one, 'a token of one collection']) {
    my ($s, $c) = $api->call(GET => "/collections/$cid", token => $tok->[0]{token});
    is($s, 200, "$tok->[1] made before reaches what it reached");
    is($c->{teamId}, $me->{privateTeamId}, "$tok->[1]: the collection's team");
    my (undef, $p) = $api->call(GET => '/profile', token => $tok->[0]{token});
    is($p->{userId}, $me->{userId}, "$tok->[1] belongs to the first user");
}
{
    my ($s) = $api->call(GET => "/collections/$cid/devices/$d1->{deviceId}",
                         token => $all->{token});
    is($s, 200, 'its devices too');
    my (undef, $l) = $api->call(GET => '/tokens', token => $all->{token});
    is(scalar @{ $l->{tokens} }, 2, 'the old tokens are listed by their user');
    my $new = $api->create_token({ resource => '/', write => JFALSE },
                                 token => $all->{token});
    my (undef, $p) = $api->call(GET => '/profile', token => $new->{token});
    is($p->{userId}, $me->{userId}, 'a token an old token makes is the same user\'s');
    is_error([$api->call(PATCH => "/collections/$cid", body => {},
                         token => $one->{token})], 403,
             'a read-only old token still may not write');
    my (undef, $tl) = $api->call(GET => '/teams');
    is(scalar @{ $tl->{teams} }, 1, 'the first user has its own team');
    is_error([$api->call(DELETE => "/teams/$me->{privateTeamId}")], 403,
             'which cannot be deleted', qr/own team/);
}

# ---- repeatable: schema 8 again on a store that has it.  Ids are random:
# with eight teams and users more, the first is not the lowest of them
$api->call(POST => '/teams', body => {}) for 1 .. 8;
$api->call(POST => '/users', body => { name => "later$_" }) for 1 .. 8;
$t->stop;
sql('PRAGMA user_version = 7');
$t->start;
is(sql('SELECT count(*) FROM users'), 9, 'the migration again makes no user');
{
    my (undef, $p) = $api->call(GET => '/profile');
    is($p->{userId}, $me->{userId}, 'the first user is the same');
    is($p->{privateTeamId}, $c1->{teamId}, 'and so is the installation\'s team');
    my (undef, $l) = $api->call(GET => '/teams');
    is(scalar @{ $l->{teams} }, 9, 'its teams are kept');
    my (undef, $n) = $api->call(POST => '/collections', body => {});
    is($n->{teamId}, $c1->{teamId},
       'a new collection of the admin token is in the same team');
    my ($s) = $api->call(GET => "/collections/$cid", token => $one->{token});
    is($s, 200, 'old tokens still reach');
}

$t->check_log('the end');
$t->finish;
done_testing;
