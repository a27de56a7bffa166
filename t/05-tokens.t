#!/usr/bin/perl
# API tokens: creation, scopes (resource prefix on "/" boundaries, write),
# the lists a scoped token sees, who may make which token, the token
# sub-resource by prefix and by full token, deletion, and that the store
# never holds a token in clear.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::JSON;
use Digest::SHA qw(sha256 sha256_hex);
use File::Copy ();

my $t = IoT::Test->new;
my $api = IoT::Collections->new($t);
$t->start;

my $A = ($api->call(POST => '/collections', body => { tags => { n => 'A' } }))[1];
my $B = ($api->call(POST => '/collections', body => { tags => { n => 'B' } }))[1];
my ($aid, $bid) = ($A->{collectionId}, $B->{collectionId});
like($aid, $ID_RE, 'collection A');
like($bid, $ID_RE, 'collection B');
my $DA = ($api->call(POST => "/collections/$aid/devices",
    body => { imsi => $t->next_imsi, imei => $t->next_imei }))[1];
my $DB = ($api->call(POST => "/collections/$bid/devices",
    body => { imsi => $t->next_imsi, imei => $t->next_imei }))[1];
ok($DA && $DB, 'a device in each');

my @FULL;    # every full token seen, for the store check
sub mk {
    my (%body) = @_;
    my $tok = delete $body{token};
    my @res = $api->call(POST => '/tokens', body => \%body,
                         defined $tok ? (token => $tok) : ());
    push @FULL, $res[1]{token} if $res[0] == 201 && $res[1];
    return @res;
}

# ---- create
my ($st, $RA, $h, $raw) = mk(resource => "/collections/$aid", write => JFALSE,
                             tags => { who => 'reader' });
is($st, 201, 'POST /tokens is 201');
is_deeply([ sort keys %$RA ], [qw(resource tags token write)],
          'token has exactly the documented keys');
like($RA->{token}, qr/^[0-9a-f]{64}\z/i, 'full token (64 hex) in the POST answer');
is($RA->{resource}, "/collections/$aid", 'resource kept');
ok(is_bool_value($RA->{write}, 0), 'write is false');
is_deeply($RA->{tags}, { who => 'reader' }, 'tags kept');
my $ra = $RA->{token};
my $ra_pfx = substr($ra, 0, 12);

my (undef, $WA) = mk(resource => "/collections/$aid", write => JTRUE);
my $wa = $WA->{token};
ok(is_bool_value($WA->{write}, 1), 'write token');
my (undef, $DEF) = mk(resource => "/collections/$bid");
ok(is_bool_value($DEF->{write}, 0), 'write defaults to false');
is_deeply($DEF->{tags}, {}, 'tags default to an empty object');
isnt($WA->{token}, $ra, 'tokens differ');

# ---- full token only once
{
    my ($s, $l, undef, $raw) = $api->call(GET => '/tokens');
    is($s, 200, 'GET /tokens is 200');
    my @toks = @{ $l->{tokens} || [] };
    my ($e) = grep { $_->{token} eq $ra_pfx } @toks;
    ok($e, 'token listed under its 12-character prefix');
    is_deeply($e, { %$RA, token => $ra_pfx }, 'listed as made, with the prefix');
    ok(!(grep { index($raw, $_) >= 0 } @FULL), 'no full token in the list');
    ok(!(grep { length($_->{token}) != 12 } @toks), 'every listed token is 12 chars');

    for my $name ($ra_pfx, $ra) {
        my ($s2, $g, undef, $raw2) = $api->call(GET => "/tokens/$name");
        is($s2, 200, 'GET /tokens/{' . (length $name) . ' chars} is 200');
        is_deeply($g, { %$RA, token => $ra_pfx }, 'the token, with its prefix');
        ok(index($raw2, $ra) < 0, 'full token not shown');
    }
    is_error([$api->call(GET => '/tokens/' . substr($ra, 0, 11))], 404,
             '11 characters do not name a token');
    is_error([$api->call(GET => '/tokens/' . substr($ra, 0, 13))], 404,
             '13 characters do not name a token');
    my $wrong = substr($ra, 0, 12) . ($ra =~ /0$/ ? '1' x 52 : '0' x 52);
    is_error([$api->call(GET => "/tokens/$wrong")], 404,
             'right prefix with a wrong rest does not name the token');
}

# ---- authentication with tokens
{
    is(($api->call(GET => "/collections/$aid", token => $ra))[0], 200,
       'read token works');
    my $wrong = substr($ra, 0, 12) . ($ra =~ /0$/ ? '1' x 52 : '0' x 52);
    is_error([$api->call(GET => "/collections/$aid", token => $wrong)], 401,
             'right prefix, wrong rest: 401');
    is_error([$api->call(GET => "/collections/$aid", token => $ra_pfx)], 401,
             'the public prefix is not a token');
    is_error([$api->call(GET => "/collections/$aid", token => substr($ra, 0, 63))],
             401, 'a truncated token is not a token');
}

# ---- read-only token
{
    my $tk = $ra;
    is(($api->call(GET => '/', token => $tk))[0], 200, 'read token: GET /');
    is(($api->call(GET => '/system', token => $tk))[0], 200, 'read token: GET /system');
    is(($api->call(GET => "/collections/$aid/devices", token => $tk))[0], 200,
       'read token: GET devices');
    is(($api->call(GET => "/collections/$aid/devices/$DA->{deviceId}", token => $tk))[0],
       200, 'read token: GET device');
    is(($api->call(GET => "/collections/$aid/tags", token => $tk))[0], 200,
       'read token: GET tags');
    my $before_a = ($api->call(GET => "/collections/$aid"))[1];
    my $before_d = ($api->call(GET => "/collections/$aid/devices/$DA->{deviceId}"))[1];
    is_error([$api->call(POST => "/collections/$aid/devices", token => $tk,
        body => { imsi => $t->next_imsi, imei => $t->next_imei })], 403,
        'read token: POST device');
    is_error([$api->call(PATCH => "/collections/$aid", token => $tk,
        body => { tags => { x => 'y' } })], 403, 'read token: PATCH collection');
    is_error([$api->call(PATCH => "/collections/$aid/tags/x", token => $tk,
        body => { value => 'y' })], 403, 'read token: PATCH tag');
    is_error([$api->call(DELETE => "/collections/$aid/tags/n", token => $tk)], 403,
             'read token: DELETE tag');
    is_error([$api->call(DELETE => "/collections/$aid/devices/$DA->{deviceId}",
                         token => $tk)], 403, 'read token: DELETE device');
    is_error([$api->call(DELETE => "/collections/$aid", token => $tk)], 403,
             'read token: DELETE collection');
    is_error([$api->call(POST => '/collections', token => $tk, body => {})], 403,
             'read token: POST /collections');
    my $ntok = scalar @{ ($api->call(GET => '/tokens'))[1]{tokens} };
    is_error([$api->call(POST => '/tokens', token => $tk,
                         body => { resource => "/collections/$aid" })], 403,
             'read token: POST /tokens, even for its own resource');
    is(scalar @{ ($api->call(GET => '/tokens'))[1]{tokens} }, $ntok,
       'the refused POST /tokens made no token');
    is_error([$api->call(PATCH => "/tokens/$ra_pfx", token => $tk,
                         body => { write => JTRUE })], 403,
             'read token: PATCH itself to write');
    is_error([$api->call(DELETE => "/tokens/$ra_pfx", token => $tk)], 403,
             'read token: DELETE itself');
    is_deeply(($api->call(GET => "/collections/$aid"))[1], $before_a,
              'collection unchanged');
    is_deeply(($api->call(GET => "/collections/$aid/devices/$DA->{deviceId}"))[1],
              $before_d, 'device unchanged');
    is(scalar @{ ($api->call(GET => "/collections/$aid/devices"))[1]{devices} }, 1,
       'no device added');
    ok(is_bool_value(($api->call(GET => "/tokens/$ra_pfx"))[1]{write}, 0),
       'token still read-only');

    # outside the resource
    is_error([$api->call(GET => "/collections/$bid", token => $tk)], 403,
             'read token A: GET collection B');
    is_error([$api->call(GET => "/collections/$bid/devices", token => $tk)], 403,
             'read token A: GET devices of B');
    is_error([$api->call(GET => "/collections/$bid/devices/$DB->{deviceId}",
                         token => $tk)], 403, 'read token A: GET device of B');
    # a device of B asked for through A is simply not there
    is_error([$api->call(GET => "/collections/$aid/devices/$DB->{deviceId}",
                         token => $tk)], 404, 'read token A: device of B under A is 404');
}

# ---- lists seen by scoped tokens
{
    my ($s, $l) = $api->call(GET => '/collections', token => $ra);
    is($s, 200, 'read token A: GET /collections is 200');
    is_deeply([ map { $_->{collectionId} } @{ $l->{collections} || [] } ],
              [$aid], 'lists only collection A');
    ($s, $l) = $api->call(GET => '/collections');
    is_deeply([ map { $_->{collectionId} } @{ $l->{collections} } ],
              [ sort $aid, $bid ], 'admin lists both');

    ($s, $l) = $api->call(GET => '/tokens', token => $ra);
    is($s, 200, 'read token A: GET /tokens is 200');
    my @res = map { $_->{resource} } @{ $l->{tokens} || [] };
    ok(!(grep { $_ !~ m{^/collections/\Q$aid\E(/|\z)} } @res),
       'lists only tokens inside its own resource')
        or diag("saw: @res");
    ok(!(grep { $_->{token} eq substr($DEF->{token}, 0, 12) } @{ $l->{tokens} || [] }),
       'the token for B is not listed');
    is(($api->call(GET => '/tokens/' . substr($DEF->{token}, 0, 12),
                   token => $ra))[0] == 200 ? 1 : 0, 0,
       'read token A cannot GET the token for B');
}

# ---- write token scoped to A
{
    my $tk = $wa;
    my ($s, $d) = $api->call(POST => "/collections/$aid/devices", token => $tk,
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    is($s, 201, 'write token A: POST device in A');
    ($s) = $api->call(PATCH => "/collections/$aid", token => $tk,
                      body => { tags => { w => '1' } });
    is($s, 200, 'write token A: PATCH A');
    ($s) = $api->call(DELETE => "/collections/$aid/devices/$d->{deviceId}", token => $tk);
    is($s, 204, 'write token A: DELETE device in A');

    my $before_b = ($api->call(GET => "/collections/$bid"))[1];
    my $ncoll = scalar @{ ($api->call(GET => '/collections'))[1]{collections} };
    is_error([$api->call(POST => '/collections', token => $tk, body => {})], 403,
             'write token A: POST /collections (outside its resource)');
    is(scalar @{ ($api->call(GET => '/collections'))[1]{collections} }, $ncoll,
       'the refused POST /collections made nothing');
    is_error([$api->call(PATCH => "/collections/$bid", token => $tk,
                         body => { tags => { w => '1' } })], 403,
             'write token A: PATCH B');
    is_error([$api->call(POST => "/collections/$bid/devices", token => $tk,
        body => { imsi => $t->next_imsi, imei => $t->next_imei })], 403,
        'write token A: POST device in B');
    is_error([$api->call(DELETE => "/collections/$bid", token => $tk)], 403,
             'write token A: DELETE B');
    is_deeply(($api->call(GET => "/collections/$bid"))[1], $before_b, 'B unchanged');

    # moving a device needs the target collection too
    my $durl = "/collections/$aid/devices/$DA->{deviceId}";
    my $before = ($api->call(GET => $durl))[1];
    is_error([$api->call(PATCH => $durl, token => $tk,
                         body => { collectionId => $bid })], 403,
             'write token A: move a device from A to B');
    is_deeply(($api->call(GET => $durl))[1], $before, 'device still in A, unchanged');
    is(scalar @{ ($api->call(GET => "/collections/$bid/devices"))[1]{devices} }, 1,
       'B still has one device');

    # tokens made by a scoped write token
    my @wider = ('/', '/collections', "/collections/$bid", '/tokens',
                 "/collections/${aid}x", '/collections/' . substr($aid, 0, 12));
    my $ntok = scalar @{ ($api->call(GET => '/tokens'))[1]{tokens} };
    for my $r (@wider) {
        is_error([mk(token => $tk, resource => $r)], 403,
                 "write token A cannot make a token for $r");
    }
    is(scalar @{ ($api->call(GET => '/tokens'))[1]{tokens} }, $ntok,
       'the refused POST /tokens made no token');
    my ($s2, $sub) = mk(token => $tk, resource => "/collections/$aid/devices",
                        write => JTRUE);
    is($s2, 201, 'write token A can make a token inside A');
    ($s2, my $same) = mk(token => $tk, resource => "/collections/$aid");
    is($s2, 201, 'write token A can make a token for A itself');

    # and patch / delete them, but not widen them
    my $sp = $sub->{token} ? substr($sub->{token}, 0, 12) : 'none';
    is_error([$api->call(PATCH => "/tokens/$sp", token => $tk,
                         body => { resource => '/' })], 403,
             'write token A cannot widen a token to /');
    is_error([$api->call(PATCH => "/tokens/$sp", token => $tk,
                         body => { resource => "/collections/$bid" })], 403,
             'write token A cannot move a token to B');
    is(($api->call(GET => "/tokens/$sp"))[1]{resource}, "/collections/$aid/devices",
       'token resource unchanged');
    my ($s3, $p) = $api->call(PATCH => "/tokens/$sp", token => $tk,
                              body => { tags => { by => 'wa' } });
    is($s3, 200, 'write token A can PATCH a token inside A');
    is_deeply($p->{tags}, { by => 'wa' }, 'tags set');
    is(($api->call(DELETE => "/tokens/$sp", token => $tk))[0], 204,
       'write token A can DELETE a token inside A');
    # a token outside A
    my $dp = substr($DEF->{token}, 0, 12);
    my ($s4) = $api->call(DELETE => "/tokens/$dp", token => $tk);
    ok($s4 == 403 || $s4 == 404, 'write token A cannot DELETE the token for B')
        or diag("got $s4");
    is(($api->call(GET => "/tokens/$dp"))[0], 200, 'token for B still there');
}

# ---- prefix boundaries
{
    my $short = '/collections/' . substr($aid, 0, 12);
    my (undef, $T1) = mk(resource => $short);
    my $t1 = $T1->{token};
    is_error([$api->call(GET => "/collections/$aid", token => $t1)], 403,
             "resource $short does not cover A");
    is_error([$api->call(GET => "/collections/$aid/devices", token => $t1)], 403,
             "nor A's devices");
    is_deeply(($api->call(GET => '/collections', token => $t1))[1],
              { collections => [] }, 'and lists no collection');

    my (undef, $T2) = mk(resource => "/collections/$aid/devices/$DA->{deviceId}");
    my $t2 = $T2->{token};
    is(($api->call(GET => "/collections/$aid/devices/$DA->{deviceId}",
                   token => $t2))[0], 200, 'device-scoped token reads its device');
    is(($api->call(GET => "/collections/$aid/devices/$DA->{deviceId}/tags",
                   token => $t2))[0], 200, '... and its tags');
    is_error([$api->call(GET => "/collections/$aid", token => $t2)], 403,
             'device-scoped token cannot read the collection');
    is_error([$api->call(GET => "/collections/$aid/devices", token => $t2)], 403,
             'device-scoped token cannot list the devices');

    my (undef, $T3) = mk(resource => '/collections');
    my $t3 = $T3->{token};
    is(($api->call(GET => "/collections/$bid", token => $t3))[0], 200,
       '/collections covers every collection');
    is_deeply([ map { $_->{collectionId} }
                @{ ($api->call(GET => '/collections', token => $t3))[1]{collections} } ],
              [ sort $aid, $bid ], '... and lists them all');

    my (undef, $T4) = mk(resource => '/');
    is(($api->call(GET => "/collections/$bid/devices", token => $T4->{token}))[0],
       200, '/ covers everything');
    my $p4 = substr($T4->{token}, 0, 12);
    isnt(($api->call(GET => "/tokens/$p4", token => $t3))[0], 200,
         'a /collections token cannot read a token for /');
    ok(!(grep { $_->{token} eq $p4 }
         @{ ($api->call(GET => '/tokens', token => $t3))[1]{tokens} || [] }),
       '... nor list it');
    is_error([$api->call(DELETE => "/tokens/$p4", token => $t3)], 403,
             '... nor delete it (read-only anyway)');
    is(($api->call(GET => "/tokens/$p4"))[0], 200, 'token for / still there');
}

# ---- admin changes tokens; changes take effect at once in every worker
{
    my ($s, $p) = $api->call(PATCH => "/tokens/$ra_pfx",
        body => { write => JTRUE, tags => { who => '', n => '2' } });
    is($s, 200, 'PATCH token by prefix is 200');
    ok(is_bool_value($p->{write}, 1), 'write now true');
    is_deeply($p->{tags}, { n => '2' }, 'tags merged, "" removed');
    is($p->{token}, $ra_pfx, 'PATCH answer shows the prefix');
    is($p->{resource}, "/collections/$aid", 'resource unchanged');
    my $all = $api->req_all_workers(PATCH => "/collections/$aid", token => $ra,
                                    body => { tags => { by => 'ra' } });
    my @st = map { $_->{status} } map { @$_ } values %$all;
    ok(@st && !(grep { $_ != 200 } @st), 'now a write token in every worker')
        or diag("statuses: @st");

    ($s, $p) = $api->call(PATCH => "/tokens/$ra",
                          body => { resource => "/collections/$bid" });
    is($s, 200, 'PATCH token by full token is 200');
    is($p->{resource}, "/collections/$bid", 'resource moved to B');
    $all = $api->req_all_workers(GET => "/collections/$aid", token => $ra);
    @st = map { $_->{status} } map { @$_ } values %$all;
    ok(@st && !(grep { $_ != 403 } @st), 'A refused in every worker')
        or diag("statuses: @st");
    is(($api->call(GET => "/collections/$bid", token => $ra))[0], 200, 'B allowed');
    is_error([$api->call(PATCH => "/tokens/$ra_pfx", body => { resource => 'x' })],
             400, 'PATCH resource not starting with /', qr/resource/i);

    # delete by full token
    ($s, undef, undef, my $raw) = $api->call(DELETE => "/tokens/$ra");
    is($s, 204, 'DELETE token is 204');
    is($raw, '', 'no body');
    $all = $api->req_all_workers(GET => '/', token => $ra);
    @st = map { $_->{status} } map { @$_ } values %$all;
    ok(@st && !(grep { $_ != 401 } @st), 'deleted token is 401 in every worker')
        or diag("statuses: @st");
    is_error([$api->call(GET => "/tokens/$ra_pfx")], 404, 'GET deleted token 404');
    is_error([$api->call(DELETE => "/tokens/$ra_pfx")], 404, 'DELETE again 404');
    ok(!(grep { $_->{token} eq $ra_pfx }
         @{ ($api->call(GET => '/tokens'))[1]{tokens} }), 'no longer listed');

    # delete by prefix
    my $wp = substr($wa, 0, 12);
    is(($api->call(DELETE => "/tokens/$wp"))[0], 204, 'DELETE token by prefix');
    is_error([$api->call(GET => "/collections/$aid", token => $wa)], 401,
             'token deleted by prefix is 401');

    # the admin token is not a /tokens entity to be removed by accident
    is(($api->call(GET => '/'))[0], 200, 'admin token still works');
}

# ---- the store never holds a token in clear
{
    my @secrets = (@FULL, $t->admin_token);
    my $db = $t->dir . '/var/iot.db';
    ok(-f $db, 'the store exists');
    my $copy = $t->dir . '/storecopy';
    mkdir $copy;
    my $bytes = '';
    for my $f ($db, "$db-wal", "$db-shm", "$db-journal") {
        next unless -f $f;
        open my $fh, '<:raw', $f or next;
        local $/;
        $bytes .= <$fh> // '';
        close $fh;
        File::Copy::copy($f, $copy . '/' . (split m{/}, $f)[-1]);
    }
    ok(length $bytes, 'read the store files');
    for my $s (@secrets) {
        my $hit = index(lc $bytes, lc $s) >= 0 || index($bytes, pack('H*', $s)) >= 0;
        ok(!$hit, 'token ' . substr($s, 0, 12) . '... not in the store files');
    }
    # SQL dump of a copy (the copy replays the WAL)
    my $dump = `sqlite3 $copy/iot.db .dump 2>&1`;
    ok($? == 0 && length $dump, 'sqlite3 can dump the store') or diag($dump);
    for my $s (@secrets) {
        ok(index(lc $dump, lc $s) < 0,
           'token ' . substr($s, 0, 12) . '... not in the SQL dump');
    }
    # what is kept is the SHA-256
    my $live = (grep { my $p = substr($_, 0, 12);
                       (($api->call(GET => "/tokens/$p"))[0] == 200) } @FULL)[0];
    ok($live, 'a live token to look for');
    my $hex = sha256_hex(lc $live);
    my $found = index(lc $dump, $hex) >= 0 || index(lc $bytes, $hex) >= 0
             || index($bytes, sha256(lc $live)) >= 0
             || index($bytes, sha256(pack 'H*', $live)) >= 0
             || index(lc $dump, sha256_hex(pack 'H*', $live)) >= 0;
    ok($found, 'the SHA-256 of a live token is in the store');
}

# ---- tokens survive a restart; deleted ones stay deleted
{
    my $live = (grep { my $p = substr($_, 0, 12);
                       (($api->call(GET => "/tokens/$p"))[0] == 200) } @FULL)[0];
    $t->restart;
    is(($api->call(GET => '/', token => $live))[0], 200, 'token works after restart');
    is_error([$api->call(GET => '/', token => $ra)], 401,
             'deleted token still 401 after restart');
    my $full = $DEF->{token};
    is(($api->call(GET => '/tokens/' . substr($full, 0, 12)))[1]{resource},
       "/collections/$bid", 'a token scoped to B survived the restart');
    is_error([$api->call(GET => "/collections/$aid", token => $full)], 403,
             'its scope is still enforced after restart');
    is(($api->call(GET => "/collections/$bid", token => $full))[0], 200,
       'and it still reaches B');
}

$t->finish;
done_testing;
