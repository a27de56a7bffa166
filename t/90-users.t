#!/usr/bin/perl
# Users: the admin token makes them (POST /users, with a first token shown
# once), lists them; nobody else may.  /profile for the caller.  A token
# belongs to a user: it sees and makes only its user's tokens, reaches only
# its user's teams' collections, and a token it makes never reaches more.

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

# ---- the admin token's user: the installation's first
my ($st, $me) = $api->call(GET => '/profile');
is($st, 200, 'GET /profile is 200');
like($me->{userId} // '', $ID_RE, 'userId');
like($me->{privateTeamId} // '', $ID_RE, 'privateTeamId');
for my $k (qw(name email phone avatarUrl verifiedEmail verifiedPhone
              connectId gitHubLogin authType))
{
    ok(exists $me->{$k}, "profile has $k");
}

# ---- POST /users
my ($s1, $u1) = $api->call(POST => '/users',
                           body => { name => 'Ada', email => 'ada@example.com',
                                     phone => '+4712345678' });
is($s1, 201, 'POST /users is 201');
like($u1->{userId} // '', $ID_RE, 'the new user\'s id');
isnt($u1->{userId}, $me->{userId}, 'another user');
like($u1->{privateTeamId} // '', $ID_RE, 'its own team');
is($u1->{name}, 'Ada', 'name kept');
is($u1->{email}, 'ada@example.com', 'email kept');
like($u1->{token} // '', qr/^[0-9a-f]{64}\z/, 'its first token, in full');
my $tok1 = $u1->{token};

{
    my ($s, $p) = $api->call(GET => '/profile', token => $tok1);
    is($s, 200, 'the new user\'s token works');
    is($p->{userId}, $u1->{userId}, '/profile is that user');
    is($p->{name}, 'Ada', 'with its name');
    ok(!exists $p->{token}, 'the profile shows no token');
    my ($st2, $l) = $api->call(GET => '/tokens', token => $tok1);
    is(scalar @{ $l->{tokens} }, 1, 'the user has one token');
    is($l->{tokens}[0]{resource}, '/', 'its first token reaches /');
    ok($l->{tokens}[0]{write}, 'and may write');
    is(length $l->{tokens}[0]{token}, 12, 'shown by its prefix only');
    my ($st3, $tl) = $api->call(GET => '/teams', token => $tok1);
    is(scalar @{ $tl->{teams} }, 1, 'the user has its own team');
    is($tl->{teams}[0]{teamId}, $u1->{privateTeamId}, 'that one');
    is($tl->{teams}[0]{members}[0]{userId}, $u1->{userId}, 'as its member');
    is($tl->{teams}[0]{members}[0]{role}, 'Admin', 'and Admin');
}

{
    my ($s, $l) = $api->call(GET => '/users');
    is($s, 200, 'GET /users with the admin token');
    is(scalar @{ $l->{users} }, 2, 'two users');
    ok(!grep({ exists $_->{token} } @{ $l->{users} }), 'no token in the list');
}

is_error([$api->call(GET => '/users', token => $tok1)], 403,
         'a user\'s token lists no users', qr/admin/);
is_error([$api->call(POST => '/users', body => {}, token => $tok1)], 403,
         'a user\'s token makes no users', qr/admin/);
is_error([$api->call(POST => '/users', body => { name => [1] })], 400,
         'a name that is not a string', qr/name/);
is_error([$api->call(POST => '/users', body => { email => 'x' x 300 })], 400,
         'an email too long', qr/email/);
{
    my (undef, $l) = $api->call(GET => '/users');
    is(scalar @{ $l->{users} }, 2, 'refused POSTs made no user');
}

# ---- tokens belong to users
my $admin_coll = $api->create_collection({ tags => { name => 'admin' } });
my $acid = $admin_coll->{collectionId};
my $admin_tok = $api->create_token({ resource => '/', write => JTRUE });

{
    my (undef, $l) = $api->call(GET => '/tokens', token => $tok1);
    ok(!grep({ $_->{token} eq substr($admin_tok->{token}, 0, 12) }
             @{ $l->{tokens} }), 'another user\'s token is not listed');
    is_error([$api->call(GET => '/tokens/' . substr($admin_tok->{token}, 0, 12),
                         token => $tok1)],
             404, 'nor found by its prefix', qr/token/);
    is_error([$api->call(DELETE => '/tokens/' . substr($admin_tok->{token}, 0, 12),
                         token => $tok1)],
             404, 'nor deleted', qr/token/);
    my (undef, $al) = $api->call(GET => '/tokens');
    ok(!grep({ $_->{token} eq substr($tok1, 0, 12) } @{ $al->{tokens} }),
       'the admin token lists only its user\'s tokens');
}

# the user's collections: in its own team
my $c1 = $api->create_collection({}, token => $tok1);
is($c1->{teamId}, $u1->{privateTeamId}, 'a user\'s collection is in its team');

{
    my (undef, $l) = $api->call(GET => '/collections', token => $tok1);
    is_deeply([map { $_->{collectionId} } @{ $l->{collections} }],
              [$c1->{collectionId}], 'a user lists only its teams\' collections');
    is_error([$api->call(GET => "/collections/$acid", token => $tok1)], 403,
             'another team\'s collection is out of reach');
    my ($s) = $api->call(GET => "/collections/$acid",
                         token => $admin_tok->{token});
    is($s, 200, 'the first user\'s token reaches its collection');
    is_error([$api->call(GET => "/collections/$c1->{collectionId}",
                         token => $admin_tok->{token})],
             403, 'but not another user\'s');
    my ($sa) = $api->call(GET => "/collections/$c1->{collectionId}");
    is($sa, 200, 'the admin token reaches every collection');
}

# a token made by a user's token is that user's, with no more reach
{
    my $sub = $api->create_token({ resource => '/collections', write => JFALSE },
                                 token => $tok1);
    my (undef, $l) = $api->call(GET => '/collections', token => $sub->{token});
    is_deeply([map { $_->{collectionId} } @{ $l->{collections} }],
              [$c1->{collectionId}],
              'a token a user made reaches that user\'s collections only');
    is_error([$api->call(GET => "/collections/$acid", token => $sub->{token})],
             403, 'and not the others');
    my (undef, $p) = $api->call(GET => '/profile', token => $sub->{token});
    is($p->{userId}, $u1->{userId}, 'its user is the maker\'s');
    is_error([$api->call(POST => '/collections', body => { teamId => $me->{privateTeamId} },
                         token => $tok1)],
             400, 'a collection in another user\'s team', qr/teamId/);
}

# ---- after a restart
$t->restart;
{
    my ($s, $p) = $api->call(GET => '/profile', token => $tok1);
    is($s, 200, 'the user\'s token after a restart');
    is($p->{userId}, $u1->{userId}, 'the same user');
    my (undef, $l) = $api->call(GET => '/collections', token => $tok1);
    is(scalar @{ $l->{collections} }, 1, 'the same reach');
    is_error([$api->call(GET => "/collections/$acid", token => $tok1)], 403,
             'still not another team\'s');
}

$t->check_log('the end');
$t->finish;
done_testing;
