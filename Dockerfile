# One image for every stage, for runs spread over machines (docs/scale-out.md):
#   docker run IMAGE transform --shard 2/8 --store s3://bucket/migrations --run 2026-11-28
# A build stage compiles the stages, the transform worker and the mappers to
# JavaScript (npm run build → dist/); the image holds that build only: dist/
# bundles every package it uses, so no node_modules, no TypeScript loader, no
# bundler, no test stack.
# Node.js 24 LTS, pinned by digest (24.18.0 when pinned; the digest is the
# multi-arch index as public Dockerfiles pin it, not pulled from this machine:
# refresh with `docker buildx imagetools inspect node:24-bookworm-slim`).
FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY lib ./lib
COPY model ./model
COPY extract ./extract
COPY transform ./transform
COPY load ./load
COPY verify ./verify
COPY plan ./plan
COPY catchup ./catchup
COPY scripts/build.ts scripts/has-shards.ts ./scripts/
RUN npm run build

FROM node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d
# tini as PID 1: it forwards SIGTERM (Batch terminate-job, ECS StopTask, Spot
# reclaim) to the stage, which stops within seconds saying what it kept, and
# reaps children. (On ECS, initProcessEnabled does the same for any image.)
# zstd: COMPRESSION=zstd (parts and item files) pipes through the program.
RUN apt-get update && apt-get install -y --no-install-recommends tini zstd && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Progress lines are for terminals; a batch job's log gets one line per part.
ENV NODE_ENV=production CI=true
# package.json: the CLIs' --version, and the package root the build finds its files from (lib/runtime.ts).
COPY package.json ./
COPY lib/prices.json ./lib/
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The stages write nothing outside --store; run as an unprivileged user.
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/pg2ddb"]
CMD ["--help"]
