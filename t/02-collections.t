#!/usr/bin/perl
# Collections: create, get, list, patch, delete; teamId; tags sub-resource.

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

sub coll_shape_ok {
    my ($c, $name) = @_;
    ok(ref $c eq 'HASH', "$name: an object") or return;
    like($c->{collectionId} // '', $ID_RE, "$name: collectionId is an id");
    like($c->{teamId} // '', $ID_RE, "$name: teamId is an id");
    ok(ref $c->{fieldMask} eq 'HASH', "$name: fieldMask is an object");
    for my $f (qw(imsi imei msisdn location)) {
        ok(is_bool_value($c->{fieldMask}{$f}), "$name: fieldMask.$f is bool");
    }
    ok(ref $c->{tags} eq 'HASH', "$name: tags is an object");
}

# ---- create
my ($st, $c1, $h) = $api->call(POST => '/collections',
                               body => { tags => { name => 'Greenhouse' } });
is($st, 201, 'POST /collections is 201');
like($h->{'content-type'} // '', qr{^application/json\b}i, 'JSON answer');
coll_shape_ok($c1, 'created collection');
is_deeply($c1->{tags}, { name => 'Greenhouse' }, 'tags kept on create');
my $cid = $c1->{collectionId};
my $team = $c1->{teamId};

my ($st2, $c2) = $api->call(POST => '/collections', body => {});
is($st2, 201, 'POST /collections with empty object is 201');
coll_shape_ok($c2, 'second collection');
isnt($c2->{collectionId}, $cid, 'ids differ');
is($c2->{teamId}, $team, 'same team for every collection');
is_deeply($c2->{tags}, {}, 'no tags: empty object');

{
    my ($s, $sys) = $api->call(GET => '/system');
    is_deeply(plain($c2->{fieldMask}), plain($sys->{defaultFieldMask}),
              'new collection has the default field mask of /system');
}

# ---- get
{
    my ($s, $g) = $api->call(GET => "/collections/$cid");
    is($s, 200, 'GET /collections/{cid} is 200');
    is_deeply($g, $c1, 'GET returns what POST returned');
    is($g->{teamId}, $team, 'teamId from GET matches create');
}

# ---- teamId
{
    my ($s, $c) = $api->call(POST => '/collections', body => { teamId => $team });
    is($s, 201, 'POST with the right teamId is 201');
    is($c->{teamId}, $team, 'teamId kept');
    my $other = $team =~ /^0/ ? '1' . substr($team, 1) : '0' . substr($team, 1);
    my ($cnt0) = scalar @{ ($api->call(GET => '/collections'))[1]{collections} };
    is_error([$api->call(POST => '/collections', body => { teamId => $other })],
             400, 'POST with another teamId', qr/team/i);
    is_error([$api->call(POST => '/collections', body => { teamId => 'bad' })],
             400, 'POST with a malformed teamId', qr/team/i);
    my ($cnt1) = scalar @{ ($api->call(GET => '/collections'))[1]{collections} };
    is($cnt1, $cnt0, 'refused creates made nothing');
    is_error([$api->call(PATCH => "/collections/$cid",
                         body => { teamId => $other })],
             400, 'PATCH with another teamId', qr/team/i);
    my ($s2, $g) = $api->call(GET => "/collections/$cid");
    is_deeply($g, $c1, 'collection unchanged after refused PATCH');
    my ($s3, $p) = $api->call(PATCH => "/collections/$cid",
                              body => { teamId => $team });
    is($s3, 200, 'PATCH with the same teamId is 200');
    $api->call(DELETE => "/collections/$c->{collectionId}");
}

# ---- list
{
    my ($s, $l) = $api->call(GET => '/collections');
    is($s, 200, 'GET /collections is 200');
    ok(ref $l->{collections} eq 'ARRAY', 'collections is a list');
    my %by = map { $_->{collectionId} => $_ } @{ $l->{collections} };
    is(scalar keys %by, 2, 'two collections listed');
    is_deeply($by{$cid}, $c1, 'first listed as created');
    is_deeply($by{ $c2->{collectionId} }, $c2, 'second listed as created');
    my @ids = map { $_->{collectionId} } @{ $l->{collections} };
    is_deeply(\@ids, [ sort @ids ], 'list in id order');
}

# ---- patch
{
    my ($s, $p) = $api->call(PATCH => "/collections/$cid",
                             body => { tags => { a => '1', b => '2' } });
    is($s, 200, 'PATCH tags is 200');
    is_deeply($p->{tags}, { name => 'Greenhouse', a => '1', b => '2' },
              'tags merged');
    ($s, $p) = $api->call(PATCH => "/collections/$cid",
                          body => { tags => { b => '', c => '3' } });
    is($s, 200, 'PATCH tags again is 200');
    is_deeply($p->{tags}, { name => 'Greenhouse', a => '1', c => '3' },
              'tag set to "" removed, others kept, new one added');
    ($s, $p) = $api->call(PATCH => "/collections/$cid",
                          body => { fieldMask => { imsi => JTRUE } });
    is($s, 200, 'PATCH fieldMask.imsi is 200');
    my $want = { %{ plain($c1->{fieldMask}) }, imsi => 1 };
    is_deeply(plain($p->{fieldMask}), $want,
              'only fieldMask.imsi changed');
    ($s, $p) = $api->call(PATCH => "/collections/$cid",
                          body => { fieldMask => { location => JTRUE,
                                                   imsi => JFALSE } });
    $want = { %$want, location => 1, imsi => 0 };
    is_deeply(plain($p->{fieldMask}), $want, 'two fieldMask keys changed');
    is_deeply($p->{tags}, { name => 'Greenhouse', a => '1', c => '3' },
              'tags untouched by fieldMask PATCH');

    ($s, $p) = $api->call(PATCH => "/collections/$cid", body => {});
    is($s, 200, 'empty PATCH is 200');
    my ($s2, $g) = $api->call(GET => "/collections/$cid");
    is_deeply($g, $p, 'GET after PATCH shows the PATCH answer');
    is($g->{collectionId}, $cid, 'id unchanged');
    is($g->{teamId}, $team, 'teamId unchanged');

    ($s, $p) = $api->call(PATCH => "/collections/$cid",
                          body => { tags => undef, fieldMask => undef,
                                    collectionId => undef, unknown => 'x' });
    is($s, 200, 'PATCH with nulls and an unknown key is 200');
    is_deeply($p, $g, 'nulls and unknown keys change nothing');

    ($s, $p) = $api->call(PATCH => "/collections/$cid",
                          body => { collectionId => $c2->{collectionId} });
    ok($s == 200 || $s == 400, 'PATCH collectionId of a collection: 200 or 400');
    ($s2, $g) = $api->call(GET => "/collections/$cid");
    is($g->{collectionId}, $cid, 'a collection cannot be renamed');
}

# ---- tags sub-resource
{
    my $base = "/collections/$cid/tags";
    my ($s, $tags) = $api->call(GET => $base);
    is($s, 200, 'GET tags is 200');
    is_deeply($tags, { name => 'Greenhouse', a => '1', c => '3' },
              'GET tags returns the tags object');

    ($s, $tags) = $api->call(PATCH => $base, body => { a => '', d => '4' });
    is($s, 200, 'PATCH tags is 200');
    is_deeply($tags, { name => 'Greenhouse', c => '3', d => '4' },
              'PATCH tags merges and removes');
    my ($s2, $g) = $api->call(GET => "/collections/$cid");
    is_deeply($g->{tags}, $tags, 'collection shows the merged tags');

    my ($s3, $v) = $api->call(GET => "$base/name");
    is($s3, 200, 'GET tags/name is 200');
    is_deeply($v, { value => 'Greenhouse' }, 'GET tags/name value');

    is_error([$api->call(GET => "$base/a")], 404, 'GET a removed tag');
    is_error([$api->call(GET => "$base/nosuch")], 404, 'GET a missing tag');

    ($s, $v) = $api->call(PATCH => "$base/e", body => { value => 'five' });
    is($s, 200, 'PATCH tags/e (new) is 200');
    is_deeply($v, { value => 'five' }, 'PATCH tags/e answer');
    ($s, $v) = $api->call(GET => "$base/e");
    is_deeply($v, { value => 'five' }, 'GET tags/e after PATCH');

    ($s, $v) = $api->call(PATCH => "$base/e", body => { value => 'six' });
    is($s, 200, 'PATCH tags/e (existing) is 200');
    is_deeply(($api->call(GET => "$base/e"))[1], { value => 'six' },
              'tag value replaced');

    ($s) = $api->call(PATCH => "$base/e", body => { value => '' });
    is($s, 200, 'PATCH tags/e with "" is 200');
    is_error([$api->call(GET => "$base/e")], 404, 'tag removed by ""');

    ($s, my $raw) = ($api->call(DELETE => "$base/d"))[0, 3];
    is($s, 204, 'DELETE tags/d is 204');
    is($raw, '', '204 has no body');
    is_error([$api->call(GET => "$base/d")], 404, 'deleted tag is gone');
    is_error([$api->call(DELETE => "$base/d")], 404, 'DELETE it again is 404');
    is_error([$api->call(DELETE => "$base/nosuch")], 404, 'DELETE missing tag');

    is_deeply(($api->call(GET => $base))[1], { name => 'Greenhouse', c => '3' },
              'remaining tags');

    my $missing = '0000000000000';
    is_error([$api->call(GET => "/collections/$missing/tags")], 404,
             'tags of an unknown collection');
    is_error([$api->call(PATCH => "/collections/$missing/tags",
                         body => { a => 'b' })], 404,
             'PATCH tags of an unknown collection');
    is_error([$api->call(GET => "/collections/$missing/tags/name")], 404,
             'tag of an unknown collection');
}

# ---- delete
{
    my $c2id = $c2->{collectionId};
    my ($s, undef, undef, $raw) = $api->call(DELETE => "/collections/$c2id");
    is($s, 204, 'DELETE collection is 204');
    is($raw, '', '204 has no body');
    is_error([$api->call(GET => "/collections/$c2id")], 404,
             'deleted collection is 404');
    is_error([$api->call(DELETE => "/collections/$c2id")], 404,
             'DELETE again is 404');
    is_error([$api->call(PATCH => "/collections/$c2id", body => {})], 404,
             'PATCH deleted collection is 404');
    my @ids = map { $_->{collectionId} }
              @{ ($api->call(GET => '/collections'))[1]{collections} };
    is_deeply(\@ids, [$cid], 'deleted collection no longer listed');

    # non-empty collection
    my ($sd, $dev) = $api->call(POST => "/collections/$cid/devices",
        body => { imsi => $t->next_imsi, imei => $t->next_imei });
    is($sd, 201, 'device made');
    is_error([$api->call(DELETE => "/collections/$cid")], 409,
             'DELETE non-empty collection is 409');
    is(($api->call(GET => "/collections/$cid"))[0], 200,
       'collection still there');
    is(($api->call(GET => "/collections/$cid/devices/$dev->{deviceId}"))[0],
       200, 'device still there');
    is(($api->call(DELETE => "/collections/$cid/devices/$dev->{deviceId}"))[0],
       204, 'device deleted');
    is(($api->call(DELETE => "/collections/$cid"))[0], 204,
       'now the empty collection can be deleted');
    is_deeply(($api->call(GET => '/collections'))[1], { collections => [] },
              'no collections left');
}

$t->finish;
done_testing;
