# One image for every stage, for runs spread over machines (docs/scale-out.md):
#   docker run IMAGE transform --shard 2/8 --store s3://bucket/migrations --run 2026-11-28
# It holds the stages and mappers only: no test stack, no dev dependencies.
FROM node:20-bookworm-slim
WORKDIR /app
# Progress lines are for terminals; a batch job's log gets one line per part.
ENV NODE_ENV=production CI=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY lib ./lib
COPY extract ./extract
COPY transform ./transform
COPY load ./load
COPY catchup ./catchup
COPY bin ./bin
# The stages write nothing outside --store but the transform's worker bundle
# (esbuild, cached in .local/cache/); run as an unprivileged user.
RUN mkdir -p .local && chown node:node .local
USER node
ENTRYPOINT ["/app/bin/pg2ddb"]
CMD ["--help"]
